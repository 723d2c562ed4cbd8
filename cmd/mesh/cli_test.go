package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandPaths lists every command of the tree as the arguments that name it, the
// ones cobra adds when it runs (help, completion) included, so a new command is
// covered without touching this test.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	root := (&env{}).rootCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var out [][]string
	walk(root, func(c *cobra.Command) {
		out = append(out, strings.Fields(c.CommandPath())[1:])
	})
	if len(out) < 25 {
		t.Fatalf("only %d commands in the tree: %v", len(out), out)
	}
	return out
}

// findCommand returns the command the arguments name in a fresh tree.
func findCommand(t *testing.T, path []string) *cobra.Command {
	t.Helper()
	root := (&env{}).rootCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	c, _, err := root.Find(path)
	if err != nil {
		t.Fatalf("%v: %v", path, err)
	}
	return c
}

func TestHelpAtEveryLevel(t *testing.T) {
	for _, path := range commandPaths(t) {
		cmd := findCommand(t, path)
		for _, help := range []string{"--help", "-h"} {
			args := append(append([]string{}, path...), help)
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, &out, &errOut)
			if code := report(context.Background(), err, &errOut); code != exitOK {
				t.Errorf("mesh %s: exit %d, want 0: %v\n%s", strings.Join(args, " "), code, err, errOut.String())
				continue
			}
			text := out.String()
			if !strings.Contains(text, "Usage:\n  "+cmd.CommandPath()) {
				t.Errorf("mesh %s does not print its own usage (%s):\n%s", strings.Join(args, " "), cmd.CommandPath(), text)
			}
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(text, "--"+f.Name) {
					t.Errorf("mesh %s does not name its flag --%s:\n%s", strings.Join(args, " "), f.Name, text)
				}
			})
			if errOut.Len() > 0 {
				t.Errorf("mesh %s wrote to stderr: %s", strings.Join(args, " "), errOut.String())
			}
		}
	}
	// Commands that read the lake keep --lake.
	for _, path := range [][]string{{"products"}, {"show"}, {"freshness"}, {"query"}, {"doctor"}, {"serve"}, {"audit"}, {"demo"}, {"access", "add-token"}, {"backfill", "start"}} {
		var out bytes.Buffer
		if err := run(context.Background(), append(path, "--help"), &out, &out); err != nil || !strings.Contains(out.String(), "--lake") {
			t.Errorf("mesh %v --help: %v, no --lake:\n%s", path, err, out.String())
		}
	}
}

func TestUsageErrorsExit2WithTheCommandsUsage(t *testing.T) {
	lake := t.TempDir()
	for _, tc := range []struct {
		args       []string
		msg, usage string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "usage: mesh <command>\nRun 'mesh --help' for more."},
		{[]string{"prodcuts"}, "did you mean products?", "usage: mesh <command>"},
		{[]string{"backfill"}, "mesh backfill needs a command: mesh backfill rerun-failed, mesh backfill start or mesh backfill status", "usage: mesh backfill <command>"},
		{[]string{"backfill", "--bogus"}, "unknown flag: --bogus", "Run 'mesh backfill --help' for more."},
		{[]string{"run"}, "mesh run takes a product name or selectors", "usage: mesh run <product|selector>... [--full-refresh] [--partition DAY] [--dry-run] [--branch NAME]\nRun 'mesh run --help' for more."},
		{[]string{"run", "marketing.crm_contacts", "--full"}, "unknown flag: --full", "Run 'mesh run --help'"},
		{[]string{"show", "a", "b"}, "mesh show takes one product name", "usage: mesh show <product>"},
		{[]string{"products", "extra"}, `mesh products takes no arguments, got "extra"`, "usage: mesh products"},
		{[]string{"freshness", "--fail-on", "sometimes"}, "use warn or fail", "Run 'mesh freshness --help'"},
		{[]string{"backfill", "start", "marketing.web_traffic", "--to", "2026-01-02"}, "--from and --to are required", "Run 'mesh backfill start --help'"},
		{[]string{"backfill", "start", "marketing.web_traffic", "--from", "2026-01-05", "--to", "2026-01-02"}, "before from", "Run 'mesh backfill start --help'"},
		{[]string{"schedules", "pause"}, "mesh schedules pause takes one product name", "usage: mesh schedules pause <product>"},
		{[]string{"query", "SELECT 1", "--format", "xml"}, `unknown --format "xml"`, "Run 'mesh query --help'"},
		{[]string{"doctor", "--timeout", "soon"}, `invalid argument "soon" for "--timeout"`, "Run 'mesh doctor --help'"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(tc.args, "--lake", lake), &out, &errOut)
		if code := report(context.Background(), err, &errOut); code != exitUsage {
			t.Errorf("mesh %v: exit %d, want %d (%v)", tc.args, code, exitUsage, err)
		}
		if !strings.Contains(errOut.String(), tc.msg) || !strings.Contains(errOut.String(), tc.usage) {
			t.Errorf("mesh %v printed\n%s\nwant it to say %q and %q", tc.args, errOut.String(), tc.msg, tc.usage)
		}
	}
}

func TestOtherFailuresExit1(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"show", "nope", "--lake", t.TempDir()}, &out, &errOut)
	if code := report(context.Background(), err, &errOut); code != exitFailure || strings.Contains(errOut.String(), "usage:") {
		t.Fatalf("unknown product: exit %d, want %d\n%s", code, exitFailure, errOut.String())
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if code := report(canceled, err, &errOut); code != exitInterrupted {
		t.Errorf("a failure after Ctrl-C: exit %d, want %d", code, exitInterrupted)
	}
}

// Product names complete for the commands that take one; backfill offers only the
// partitioned ones.
func TestCompletion(t *testing.T) {
	complete := func(args ...string) string {
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{cobra.ShellCompRequestCmd}, args...), &out, &out); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := complete("run", "marketing.crm_"); !strings.Contains(got, "marketing.crm_contacts\t") || strings.Contains(got, "web_traffic") {
		t.Errorf("mesh run marketing.crm_<TAB>:\n%s", got)
	}
	if got := complete("backfill", "start", ""); !strings.Contains(got, "marketing.web_traffic") || strings.Contains(got, "crm_contacts") {
		t.Errorf("mesh backfill start <TAB> offers more than partitioned products:\n%s", got)
	}
	if got := complete("show", "marketing.crm_contacts", ""); strings.Contains(got, "marketing.") {
		t.Errorf("mesh show takes one product, yet a second is offered:\n%s", got)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"completion", shell}, &out, &out); err != nil || !strings.Contains(out.String(), "mesh") {
			t.Errorf("mesh completion %s: %v\n%.200s", shell, err, out.String())
		}
	}
}
