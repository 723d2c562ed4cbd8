// Command sandbox serves the imitation SaaS APIs of dev/sandbox on a local port.
//
//	sandbox --addr 127.0.0.1:8280 --seed 1 --fault-429 0.1 --fault-5xx 0.05
//
// When listening it prints exactly one line to stdout, the root URL (e.g.
// http://127.0.0.1:8280), so a parent process started with --addr 127.0.0.1:0
// can read the port it got; HubSpot's base URL is that root followed by /hubspot.
// GA4's is root/ga4; --ga4-key-file writes a service-account key file whose
// token_uri points at root/ga4/token, for GA4_CREDENTIALS_FILE. Pendo's base URL
// is root/pendo, Crunchbase's root/crunchbase/api/v4.
// Logs go to stderr. SIGINT or SIGTERM shuts it down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	"github.com/meshflow/meshflow/dev/sandbox/github"
	"github.com/meshflow/meshflow/dev/sandbox/googleanalytics"
	"github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/jira"
	"github.com/meshflow/meshflow/dev/sandbox/pendo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
		}
		stop()
		os.Exit(2)
	}
}

// run serves until ctx ends. It writes the root URL as one line to stdout and
// logs to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8280", "listen address; port 0 picks a free port")
	seed := fs.Int64("seed", 1, "seed of the generated data and of fault decisions")
	var f sandbox.Faults
	fs.Float64Var(&f.RateLimited, "fault-429", 0, "share of API requests answered 429 (0..1)")
	fs.Float64Var(&f.ServerError, "fault-5xx", 0, "share of API requests answered 5xx (0..1)")
	fs.Float64Var(&f.Slow, "fault-slow", 0, "share of API requests answered after --slow-delay (0..1)")
	fs.Float64Var(&f.Truncate, "fault-truncate", 0, "share of API responses cut off mid-body (0..1)")
	fs.DurationVar(&f.SlowDelay, "slow-delay", 2*time.Second, "delay of slow responses")
	fs.DurationVar(&f.RetryAfter, "retry-after", 0, "Retry-After sent on injected 429s (0 = none)")
	var hs hubspot.Options
	fs.IntVar(&hs.Contacts, "hubspot-contacts", 3000, "HubSpot contacts to generate")
	fs.IntVar(&hs.Companies, "hubspot-companies", 800, "HubSpot companies to generate")
	fs.IntVar(&hs.Deals, "hubspot-deals", 1500, "HubSpot deals to generate")
	fs.IntVar(&hs.BulkContacts, "hubspot-bulk-contacts", 0, "HubSpot contacts a last batch job rewrote at one instant, the newest lastmodifieddate (a month-end bulk update)")
	fs.IntVar(&hs.SearchCap, "hubspot-search-cap", 10_000, "HubSpot search results one query can page through")
	fs.IntVar(&hs.RateLimit, "hubspot-rate-limit", 190, "HubSpot requests per rolling 10 s (-1 = unlimited)")
	fs.IntVar(&hs.SearchPerSecond, "hubspot-search-per-second", 5, "HubSpot search requests per second (-1 = unlimited)")
	fs.IntVar(&hs.DailyLimit, "hubspot-daily-limit", 500_000, "HubSpot requests per day (-1 = unlimited)")
	fs.StringVar(&hs.Token, "hubspot-token", sandbox.HubSpotToken, "HubSpot private app token to accept")
	var gh github.Options
	fs.IntVar(&gh.Issues, "github-issues", 400, "GitHub issues to generate per repository")
	fs.IntVar(&gh.PullRequests, "github-pulls", 600, "GitHub pull requests to generate per repository")
	fs.IntVar(&gh.Commits, "github-commits", 150, "GitHub direct commits on main per repository (besides one per merged pull request)")
	fs.IntVar(&gh.PageCap, "github-page-cap", 10_000, "GitHub results page-numbered paging reaches before 422 (links switch to after= cursors)")
	fs.IntVar(&gh.RateLimit, "github-rate-limit", 5000, "GitHub primary limit, requests per hour (-1 = unlimited)")
	fs.IntVar(&gh.SecondaryPerMinute, "github-secondary-per-minute", 900, "GitHub requests per rolling minute before the secondary limit (-1 = unlimited)")
	fs.StringVar(&gh.Token, "github-token", sandbox.GitHubToken, "GitHub personal access token to accept")
	fs.IntVar(&gh.Orgs, "github-orgs", 60, "GitHub organisations that fork the repositories (customers and partners)")
	fs.IntVar(&gh.UserForks, "github-user-forks", 20, "GitHub forks owned by users")
	fs.Float64Var(&gh.MatchedShare, "github-matched-share", 0.7, "share of the forking organisations whose blog names a HubSpot company's domain (0..1)")
	var js jira.Options
	fs.IntVar(&js.Issues, "jira-issues", 1500, "Jira issues to generate over the past year")
	fs.IntVar(&js.Projects, "jira-projects", 4, "Jira projects: OPS, WEB, DATA, MOB, then SEC, PAY, SUP, PPL (1..8)")
	fs.StringVar(&js.TimeZone, "jira-time-zone", jira.DefaultTimeZone, "Jira API user's profile time zone: timestamps are written in it, bare JQL datetimes read in it")
	fs.IntVar(&js.RateLimit, "jira-rate-limit", 20, "Jira requests per rolling second (-1 = unlimited)")
	fs.StringVar(&js.Email, "jira-email", sandbox.JiraEmail, "Jira account email to accept")
	fs.StringVar(&js.Token, "jira-token", sandbox.JiraToken, "Jira API token to accept")
	var ga googleanalytics.Options
	fs.IntVar(&ga.Days, "ga4-days", 365, "GA4 days of daily traffic before today")
	fs.IntVar(&ga.TokensPerHour, "ga4-tokens-per-hour", 40_000, "GA4 quota tokens per property per hour (-1 = unlimited)")
	fs.IntVar(&ga.TokensPerDay, "ga4-tokens-per-day", 200_000, "GA4 quota tokens per property per day (-1 = unlimited)")
	ga4Key := fs.String("ga4-key-file", "", "once listening, write the GA4 service-account key file (token_uri pointing here) to this path")
	var pd pendo.Options
	fs.IntVar(&pd.Accounts, "pendo-accounts", 200, "Pendo accounts to generate (most describe HubSpot's companies)")
	fs.IntVar(&pd.Visitors, "pendo-visitors", 2000, "Pendo visitors to generate")
	fs.IntVar(&pd.Days, "pendo-days", 365, "Pendo days of events before today")
	fs.StringVar(&pd.TimeZone, "pendo-time-zone", pendo.DefaultTimeZone, "Pendo subscription time zone: day buckets start at its midnights")
	fs.IntVar(&pd.RateLimit, "pendo-rate-limit", 60, "Pendo requests per rolling minute before 429 (-1 = unlimited)")
	fs.StringVar(&pd.Key, "pendo-key", sandbox.PendoKey, "Pendo integration key to accept")
	var cb crunchbase.Options
	fs.IntVar(&cb.Organizations, "crunchbase-organizations", 400, "Crunchbase organizations to generate (most describe HubSpot's companies)")
	fs.IntVar(&cb.RateLimit, "crunchbase-rate-limit", 200, "Crunchbase calls per clock minute before a bare 429 (-1 = unlimited)")
	fs.StringVar(&cb.Key, "crunchbase-key", sandbox.CrunchbaseKey, "Crunchbase user key to accept")
	level := fs.String("log-level", "info", "log level (debug logs every request)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if err := js.Validate(); err != nil {
		return err
	}
	if err := pd.Validate(); err != nil {
		return err
	}
	if err := cb.Validate(); err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		return err
	}
	log := zerolog.New(stderr).Level(lvl).With().Timestamp().Str("component", "sandbox").Logger()

	srv := sandbox.New(&sandbox.Options{Seed: *seed, Faults: f, HubSpot: hs, GitHub: gh, Jira: js, GA4: ga, Pendo: pd, Crunchbase: cb, Logger: &log})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	root := "http://" + ln.Addr().String()
	if *ga4Key != "" {
		if err := os.WriteFile(*ga4Key, srv.GA4().ServiceAccountJSON(sandbox.GA4TokenURL(root)), 0o600); err != nil {
			ln.Close()
			return err
		}
	}
	hsrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		// In-flight requests see ctx, so slow faults end at once on shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hsrv.Serve(ln) }()

	fmt.Fprintln(stdout, root)
	log.Info().Str("url", root).Str("hubspot", sandbox.HubSpotURL(root)).Str("github", sandbox.GitHubURL(root)).Str("jira", sandbox.JiraURL(root)).Str("ga4", sandbox.GA4URL(root)).
		Str("pendo", sandbox.PendoURL(root)).Str("crunchbase", sandbox.CrunchbaseURL(root)).Int64("seed", *seed).
		Interface("faults", f).Msg("sandbox listening")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hsrv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
