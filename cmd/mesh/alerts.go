package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/query"
	"github.com/meshflow/meshflow/workers/host"
)

func (e *env) alertsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "alerts [--json]",
		Short: "the open alerts: since when, when last sent, why, and the command that fixes each",
		Long: `List every product's open alerts, as their alert workflows keep them in the lake
(no Temporal needed): the rule, since when it is open, when and where it was last sent,
the reason, the command that fixes it and the run's link in the Temporal UI.

It exits 0 whether alerts are open or not (it is a listing; mesh freshness --fail-on
is the check for scripts), and 1 only when the lake cannot be read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.alerts(cmd.Context(), asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (e *env) alerts(ctx context.Context, asJSON bool) error {
	stores, err := host.OpenStores(ctx, e.cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	open, err := alert.OpenAll(ctx, stores.Lake, e.mesh)
	if err != nil {
		return err
	}
	if asJSON {
		if open == nil {
			open = []alert.Alert{}
		}
		return writeJSON(e.stdout, open)
	}
	if len(open) == 0 {
		fmt.Fprintln(e.stdout, "no open alerts")
		return nil
	}
	fmt.Fprintf(e.stdout, "%d open alert(s):\n", len(open))
	const at = "2006-01-02 15:04 UTC"
	for _, a := range open {
		rule := string(a.Rule)
		if a.Level != "" {
			rule += " (" + a.Level + ")"
		}
		sent := "sent nowhere: no alert channel is configured (see README, Alerts)"
		if len(a.Channels) > 0 {
			var chs []string
			for _, c := range a.Channels {
				chs = append(chs, string(c))
			}
			sent = fmt.Sprintf("last sent %s to %s (%d time(s))", a.NotifiedAt.UTC().Format(at), strings.Join(chs, ", "), a.Notified)
		}
		fmt.Fprintf(e.stdout, "\n%s.%s  %s  since %s, %s\n", a.Domain, a.Product, rule, a.Since.UTC().Format(at), sent)
		fmt.Fprintf(e.stdout, "  why: %s\n", query.Printable(a.Reason))
		for _, f := range a.Fix {
			fmt.Fprintf(e.stdout, "  fix: %s\n", f)
		}
		if a.RunURL != "" {
			fmt.Fprintf(e.stdout, "  run: %s\n", a.RunURL)
		}
	}
	return nil
}
