package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/domains"
)

// What mesh dev says of each save: a broken model's problem at once, a fixed one's
// product, and a Go file's need for a rebuild.
func TestDevSaysWhatASaveMeans(t *testing.T) {
	srcRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	root := checkout(t, "platform")
	t.Chdir(root)
	before := treeState(".")
	saveModel(t, ".", "platform", "signups_daily.sql", func(sql string) string { return strings.Replace(sql, "count(*)  ", "count(x)  ", 1) })
	goFile := filepath.Join("domains", "platform", "domain.go")
	if err := os.WriteFile(goFile, []byte("package platform\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	after := treeState(".")
	if got, want := changedFiles(before, after), []string{"domains/platform/domain.go", "domains/platform/models/signups_daily.sql"}; !slices.Equal(got, want) {
		t.Fatalf("changed files %v, want %v", got, want)
	}

	var out bytes.Buffer
	built := domains.Mesh()
	reportSave(context.Background(), &out, built, ".", "domains/platform/models/signups_daily.sql", false)
	if got := out.String(); !strings.Contains(got, "signups_daily.sql saved, and does not check:") || !strings.Contains(got, `domains/platform/models/signups_daily.sql:7 (platform.signups_daily)`) || !strings.Contains(got, `"x"`) {
		t.Errorf("a broken save:\n%s", got)
	}
	out.Reset()
	saveModel(t, ".", "platform", "signups_daily.sql", func(sql string) string { return strings.Replace(sql, "count(x)  ", "count(*)  ", 1) + "-- fixed\n" })
	reportSave(context.Background(), &out, built, ".", "domains/platform/models/signups_daily.sql", false)
	if got := out.String(); !strings.Contains(got, "it checks; the next run of platform.signups_daily uses it (mesh run platform.signups_daily)") {
		t.Errorf("a fixed save:\n%s", got)
	}
	// A source spec: saved broken, then as it was.
	spec, err := os.ReadFile(filepath.Join(srcRoot, "domains", "partners", "sources", "partner_files.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join("domains", "partners", "sources", "partner_files.yaml")
	if err := os.MkdirAll(filepath.Dir(specFile), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ text, want string }{
		{strings.Replace(string(spec), "primary_key: [partner_id]", "primary_key: [partner_idd]", 1), "partner_files.yaml saved, and does not load — landings keep the spec as it was"},
		{string(spec), "partner_files.yaml saved: it loads; the next landing of partner_files uses it"},
	} {
		if err := os.WriteFile(specFile, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		reportSave(context.Background(), &out, built, ".", "domains/partners/sources/partner_files.yaml", false)
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("a saved spec:\n%s\nwant %q", out.String(), tc.want)
		}
	}
	out.Reset()
	reportSave(context.Background(), &out, built, ".", "domains/platform/domain.go", false)
	if got := out.String(); !strings.Contains(got, "Go declarations are built in — stop mesh dev (Ctrl-C), make build") {
		t.Errorf("a Go save:\n%s", got)
	}
}
