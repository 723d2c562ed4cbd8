// Command mesh is the Meshflow command line: run the local mesh (demo, dev), list and
// inspect products, and run one product through Temporal.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	// The catalog on PostgreSQL (MESHFLOW_CATALOG_URI=postgres://…) and the lake on S3.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

// rootLong is what `mesh --help` says above the command list.
const rootLong = `mesh runs and inspects the Meshflow data mesh.

Products are named domain.product, or by product name alone when unambiguous.
Restricted products need a token: MESHFLOW_TOKEN for the mesh command (see README, Access control).
Configuration comes from the environment (see README): MESHFLOW_LAKE, MESHFLOW_TEMPORAL_ADDRESS, HUBSPOT_TOKEN, ...

Exit codes: 0 ok, 1 failure (or partial failure: a backfill with failed days), 2 usage error,
130 interrupted (Ctrl-C; a run started in Temporal goes on there).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := report(ctx, run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes, as the README lists them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, what shells report for Ctrl-C
)

// report prints err (and, for a usage error, how the command is used) and returns the
// exit code: 2 for a usage error, 130 when interrupted, 1 for any other failure.
func report(ctx context.Context, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	// An error may quote source data (an API's message, a value DuckDB could not
	// convert): its lines are printed with their control characters shown.
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = query.Printable(l)
	}
	fmt.Fprintln(stderr, "mesh:", strings.Join(lines, "\n"))
	var u *usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprint(stderr, u.hint())
		return exitUsage
	case errs.Is(err, errs.Canceled) || ctx.Err() != nil:
		return exitInterrupted
	}
	return exitFailure
}

// run executes the command line args; every test and main go through it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	e := &env{mesh: domains.Mesh(), stdout: stdout, stderr: stderr}
	root := e.rootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if isUsage(err) {
		return &usageError{err: err, cmd: cmd}
	}
	return err
}

// rootCmd is the whole command tree.
func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mesh",
		Short: "run and inspect the Meshflow data mesh",
		Long:  rootLong,
		// With no command, mesh prints its help; anything else it does not know is a usage error.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		},
		SilenceErrors: true, // report prints them, with the exit code
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !needsConfig(cmd) {
				return nil
			}
			return e.loadConfig(e.lakeDir)
		},
	}
	root.Annotations = map[string]string{groupAnnotation: "true"}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })
	root.PersistentFlags().StringVar(&e.lakeDir, "lake", "", "lake directory or bucket URL (default $MESHFLOW_LAKE or ./.meshflow)")
	root.AddCommand(
		e.demoCmd("demo"), e.demoCmd("dev"), e.checkCmd(), e.testCmd(), e.graphCmd(), e.productsCmd(), e.showCmd(), e.checkRowsCmd(), e.runCmd(), e.backfillCmd(),
		e.freshnessCmd(), e.serveCmd(), e.accessCmd(), e.auditCmd(), e.contractCmd(), e.queryCmd(),
		e.schedulesCmd(), e.doctorCmd(), e.newCmd(), e.composeEnvCmd(), e.diffCmd(),
		e.promoteCmd(), e.alertsCmd(), e.maintainCmd(),
	)
	root.SuggestionsMinimumDistance = 2
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}",
		`{{if and .Runnable (ne (index .Annotations "`+groupAnnotation+`") "true")}}`, 1))
	walk(root, func(c *cobra.Command) {
		// Each Use line names the command's own flags; --lake is listed under Global Flags.
		c.DisableFlagsInUseLine = true
	})
	return root
}

// walk calls f on cmd and every command under it.
func walk(cmd *cobra.Command, f func(*cobra.Command)) {
	f(cmd)
	for _, c := range cmd.Commands() {
		walk(c, f)
	}
}

// readsDeclarationsOnly are the top-level commands that read nothing but the
// declarations: no lake, no Temporal.
var readsDeclarationsOnly = map[string]bool{"check": true, "test": true, "graph": true}

// needsConfig is false for the commands that only print (shell completion), read
// only the declarations (readsDeclarationsOnly) or write files for another
// deployment (new, compose-env): a broken environment must not break them.
func needsConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "completion" || c.Name() == "new" || c.Name() == "compose-env" || (readsDeclarationsOnly[c.Name()] && c.Parent() != nil && !c.Parent().HasParent()) || strings.HasPrefix(c.Name(), cobra.ShellCompRequestCmd) {
			return false
		}
	}
	return true
}

// group is a command that only holds others: run alone or with an unknown
// subcommand, it is a usage error listing them.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	g := &cobra.Command{
		Use: use, Short: short,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs a command: %s", cmd.CommandPath(), subcommands(cmd))
			}
			return unknownCommand(cmd, args[0])
		},
	}
	g.Annotations = map[string]string{groupAnnotation: "true"}
	g.AddCommand(subs...)
	return g
}

// groupAnnotation marks a group: its usage is its subcommands, as running it alone
// is only ever a usage error.
const groupAnnotation = "mesh-group"

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if cmd.HasParent() {
		// A group's few commands fit in the message.
		msg = fmt.Sprintf("unknown %s command %q: %s", cmd.Name(), name, subcommands(cmd))
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usagef("%s", msg)
}

// subcommands lists what cmd can run, e.g. "mesh backfill start, mesh backfill status or ...".
func subcommands(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.CommandPath())
		}
	}
	if len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	return strings.Join(names, "")
}

// usagef is a command line that cannot run as typed: exit code 2.
func usagef(format string, args ...any) error {
	return errs.Errorf(errs.Invalid, "usage", format, args...)
}

func isUsage(err error) bool {
	e, ok := errs.As(err)
	return ok && e.Kind == errs.Invalid && e.Op == "usage"
}

// usageError is a usage error with the command it concerns, so the message ends with
// that command's own usage.
type usageError struct {
	err error
	cmd *cobra.Command
}

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func (u *usageError) hint() string {
	if u.cmd == nil {
		return ""
	}
	line := u.cmd.UseLine()
	if u.cmd.Annotations[groupAnnotation] != "" {
		line = u.cmd.CommandPath() + " <command>"
	}
	return fmt.Sprintf("usage: %s\nRun '%s --help' for more.\n", line, u.cmd.CommandPath())
}

// nArgs accepts between min and max positional arguments (max < 0: any number);
// anything else is a usage error saying msg.
func nArgs(min, max int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return usagef("%s", msg)
		}
		return nil
	}
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}

// completeProducts completes product names (domain.product) for the first max
// positional arguments (max < 0: every one); with partitioned, only partitioned products.
func (e *env) completeProducts(max int, partitioned bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if max >= 0 && len(args) >= max {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, en := range e.mesh.Products() {
			name := en.Ref().String()
			if (partitioned && en.Product.PartitionBy == "") || !strings.HasPrefix(name, toComplete) || slices.Contains(args, name) {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(name, en.Product.Summary()))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

type env struct {
	cfg     host.Config
	mesh    mesh.Mesh
	stdout  io.Writer
	stderr  io.Writer
	lakeDir string // --lake
	repoDir string // mesh new --dir
}

// loadConfig reads the configuration from the environment; a --lake given on the
// command line replaces MESHFLOW_LAKE and what is derived from it.
func (e *env) loadConfig(lakeDir string) error {
	getenv := os.Getenv
	if lakeDir != "" {
		getenv = func(k string) string {
			switch k {
			case "MESHFLOW_LAKE":
				return lakeDir
			case "MESHFLOW_CATALOG_URI", "MESHFLOW_WAREHOUSE":
				return "" // derived from the lake given on the command line
			}
			return os.Getenv(k)
		}
	}
	cfg, err := host.ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	e.cfg = cfg
	return nil
}

// dialTemporal connects to the configured Temporal; the SDK logs only its warnings,
// beside the command's own output.
func (e *env) dialTemporal() (client.Client, error) {
	return host.Dial(e.cfg, logger(e.stderr, "warn"))
}

// productOnTemporal finds the named product, then connects to Temporal for it: an
// unknown name is reported without a connection.
func (e *env) productOnTemporal(name string) (mesh.Domain, mesh.Product, client.Client, error) {
	d, p, err := e.mesh.Find(name)
	if err != nil {
		return d, p, nil, err
	}
	c, err := e.dialTemporal()
	return d, p, c, err
}

func logger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}).Level(lvl).With().Timestamp().Logger()
}
