package host

import (
	"strings"

	"github.com/meshflow/meshflow/connectors/crunchbase"
	"github.com/meshflow/meshflow/connectors/github"
	"github.com/meshflow/meshflow/connectors/googleanalytics"
	"github.com/meshflow/meshflow/connectors/hubspot"
	"github.com/meshflow/meshflow/connectors/jira"
	"github.com/meshflow/meshflow/connectors/pendo"
)

// Var is one environment variable the Meshflow binaries read.
type Var struct {
	Name    string
	Default string // what applies when it is unset, as the README says it ("" = nothing)
	Doc     string // what it means (Markdown)
	// File: NAME_FILE may name a file holding the value instead (a mounted secret);
	// setting both is an error.
	File bool
	// Secret: the value is a credential. A deployment sets NAME_FILE, never the value.
	Secret bool
	// Source is the connector the variable configures ("" for the mesh itself),
	// Credential marks the variables that authenticate to it, and Locates the ones
	// saying where its data is (its address, a site, ids): what a 404 points at.
	Source     string
	Credential bool
	Locates    bool
}

// Vars is every environment variable ConfigFromEnv reads, in the README's order. It is
// the one list: the README's configuration table is rendered from it, a test checks
// that ConfigFromEnv reads exactly these, and the compose test checks every
// environment of docker-compose.yml against it.
var Vars = []Var{
	{Name: "MESHFLOW_LAKE", Default: "`" + DefaultLake + "`", Doc: "lake directory or bucket URL (`file://`, `s3://bucket/prefix`, …)"},
	{Name: "MESHFLOW_CATALOG_URI", Default: "`sqlite://<lake>/catalog.db`", File: true, Secret: true,
		Doc: "Iceberg SQL catalog: `sqlite:///path` or `postgres://user:password@host:5432/db` (then mount it as a file)"},
	{Name: "MESHFLOW_WAREHOUSE", Default: "`file://<lake>/warehouse`", Doc: "where Iceberg writes port data (`s3://bucket/prefix` beside an S3 lake)"},
	{Name: "MESHFLOW_S3_ENDPOINT", Default: "AWS", Doc: "an S3-compatible server (`http://minio:9000`); buckets are then addressed by path"},
	{Name: "AWS_REGION", Default: "the AWS SDK's (`us-east-1` with an endpoint)", Doc: "region of the lake's and the warehouse's bucket"},
	{Name: "AWS_ACCESS_KEY_ID", File: true, Default: "the AWS SDK's chain", Doc: "S3 access key; unset, the AWS SDK's chain applies (shared config, instance or pod role)"},
	{Name: "AWS_SECRET_ACCESS_KEY", File: true, Secret: true, Doc: "its secret key"},
	{Name: "MESHFLOW_TEMPORAL_ADDRESS", Default: "`" + DefaultTemporalAddress + "`", Doc: "Temporal frontend (`host:port`)"},
	{Name: "MESHFLOW_TEMPORAL_NAMESPACE", Default: "`" + DefaultNamespace + "`", Doc: "Temporal namespace"},
	{Name: "MESHFLOW_TEMPORAL_TLS", Default: "`false`", Doc: "`true` dials the frontend over TLS with the system's roots; any setting below implies it"},
	{Name: "MESHFLOW_TEMPORAL_TLS_CA_FILE", Default: "the system's roots", Doc: "PEM certificates of the CA that signed the frontend's certificate"},
	{Name: "MESHFLOW_TEMPORAL_TLS_CERT_FILE", Doc: "client certificate (PEM) for mTLS, with the key below"},
	{Name: "MESHFLOW_TEMPORAL_TLS_KEY_FILE", Doc: "the client certificate's private key (PEM)"},
	{Name: "MESHFLOW_TEMPORAL_TLS_SERVER_NAME", Default: "the address's host", Doc: "name the frontend's certificate is checked against"},
	{Name: "MESHFLOW_TEMPORAL_API_KEY", File: true, Secret: true, Doc: "API key (Temporal Cloud); it implies TLS"},
	{Name: "MESHFLOW_DOMAINS", Default: "all", Doc: "domains a worker hosts (comma-separated)"},
	{Name: "MESHFLOW_WORKDIR", Default: "OS temp dir", Doc: "scratch space for DuckDB"},
	{Name: "MESHFLOW_LOG_LEVEL", Default: "`" + DefaultLogLevel + "`", Doc: "`debug`, `info`, `warn`, `error`"},
	{Name: "MESHFLOW_WORKER_STOP_TIMEOUT", Default: "`0s`", Doc: "how long a stopping worker lets running activities finish before cancelling them (`50s`: below the orchestrator's grace period); a cancelled one is retried"},
	{Name: "MESHFLOW_ACCESS_FILE", Default: "`<lake>/access.yaml` for a local lake", Doc: "who may read restricted ports"},
	{Name: "MESHFLOW_TOKEN", File: true, Secret: true, Doc: "this caller's token for restricted ports (`mesh show`)"},

	{Name: hubspot.TokenEnv, Source: "hubspot", Credential: true, File: true, Secret: true, Doc: "HubSpot private app token"},
	{Name: hubspot.BaseURLEnv, Source: "hubspot", Locates: true, Default: "`" + hubspot.DefaultBaseURL + "`", Doc: "HubSpot API"},
	hubspotPace.Var("hubspot", "list calls a second, all HubSpot streams together: HubSpot allows 100 per 10 s on Free and Starter, 190 on Professional and Enterprise, 250 with the API limit increase pack"),
	hubspotSearchPace.Var("hubspot", "search calls a second (incremental syncs): HubSpot allows 5 per account"),
	hubspotTimeout.Var("hubspot", "HubSpot"),
	{Name: jira.BaseURLEnv, Source: "jira", Locates: true, Doc: "Jira Cloud site (`https://acme.atlassian.net`)"},
	{Name: jira.EmailEnv, Source: "jira", Credential: true, Doc: "the Atlassian account the API token belongs to"},
	{Name: jira.TokenEnv, Source: "jira", Credential: true, File: true, Secret: true, Doc: "that account's API token"},
	{Name: "JIRA_PROJECTS", Source: "jira", Default: "all visible", Doc: "project keys to read (comma-separated)"},
	jiraPace.Var("jira", "calls a second, all Jira streams together: Jira Cloud does not publish its burst limits, and its 429s are followed"),
	jiraTimeout.Var("jira", "Jira"),
	{Name: github.TokenEnv, Source: "github", Credential: true, File: true, Secret: true, Doc: "GitHub token"},
	{Name: github.ReposEnv, Source: "github", Locates: true, Doc: "`owner/name` repositories to read (comma-separated)"},
	{Name: github.BranchesEnv, Source: "github", Doc: "branches read besides each repository's default"},
	{Name: github.BaseURLEnv, Source: "github", Locates: true, Default: "`" + github.DefaultBaseURL + "`", Doc: "GitHub API (or GitHub Enterprise: `https://HOST/api/v3`)"},
	githubPace.Var("github", "requests a second, all GitHub streams together: GitHub's secondary rate limit allows 900 points a minute (15 reads a second) per token"),
	githubTimeout.Var("github", "GitHub"),
	{Name: googleanalytics.CredentialsFileEnv, Source: "googleanalytics", Credential: true, Doc: "service-account key file (JSON) with Viewer access to the properties"},
	{Name: googleanalytics.PropertyIDsEnv, Source: "googleanalytics", Locates: true, Doc: "numeric GA4 property ids (comma-separated)"},
	{Name: googleanalytics.StartDateEnv, Source: "googleanalytics", Default: "`" + googleanalytics.DefaultStartDate + "`", Doc: "first day of a full refresh (`YYYY-MM-DD` or `NdaysAgo`)"},
	{Name: googleanalytics.BaseURLEnv, Source: "googleanalytics", Locates: true, Default: "`" + googleanalytics.DefaultBaseURL + "`", Doc: "GA4 Data API"},
	{Name: googleanalytics.TokenURLEnv, Source: "googleanalytics", Default: "the key file's `token_uri`", Doc: "OAuth token endpoint"},
	ga4Pace.Var("googleanalytics", "report calls a second: GA4 limits a property's tokens per hour and per day (a run waits them out) and its concurrent requests, not a rate"),
	ga4Timeout.Var("googleanalytics", "GA4"),
	{Name: pendo.IntegrationKeyEnv, Source: "pendo", Credential: true, File: true, Secret: true, Doc: "Pendo integration key"},
	{Name: pendo.TimeZoneEnv, Source: "pendo", Default: "`" + pendo.DefaultTimeZone + "`", Doc: "the subscription's time zone (it aligns Pendo's day buckets)"},
	{Name: pendo.BaseURLEnv, Source: "pendo", Locates: true, Default: "`" + pendo.DefaultBaseURL + "`", Doc: "`https://app.eu.pendo.io` for EU subscriptions"},
	pendoPace.Var("pendo", "requests a second, all Pendo streams together: Pendo publishes no limit (public taps pace at one per 2 s, integrators report up to 100 a second per endpoint), and a 429 backs off from 30 s"),
	pendoTimeout.Var("pendo", "Pendo"),
	{Name: crunchbase.UserKeyEnv, Source: "crunchbase", Credential: true, File: true, Secret: true, Doc: "Crunchbase API key"},
	{Name: crunchbase.BaseURLEnv, Source: "crunchbase", Locates: true, Default: "`" + crunchbase.DefaultBaseURL + "`", Doc: "Crunchbase API"},
	crunchbasePace.Var("crunchbase", "calls a minute: Crunchbase allows 200 per key, and a 429 waits for the next minute"),
	crunchbaseTimeout.Var("crunchbase", "Crunchbase"),
}

// Defaults of the mesh's own variables.
const (
	DefaultTemporalAddress = "127.0.0.1:7233"
	DefaultNamespace       = "default"
	DefaultLogLevel        = "info"
)

// LookupVar returns the variable named name, also when name is the NAME_FILE form of
// a variable that takes one.
func LookupVar(name string) (Var, bool) {
	for _, v := range Vars {
		if v.Name == name || (v.File && v.Name+"_FILE" == name) {
			return v, true
		}
	}
	return Var{}, false
}

// credentialHint names the variables that authenticate to a source, for a message
// saying what to set or fix: "JIRA_EMAIL, JIRA_API_TOKEN or JIRA_API_TOKEN_FILE".
func credentialHint(source string) string {
	var names []string
	for _, v := range Vars {
		if v.Source != source || !v.Credential {
			continue
		}
		n := v.Name
		if v.File {
			n += " or " + v.Name + "_FILE"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// locationHint names the variables saying where a source's data is, for a message
// about a 404: "GITHUB_REPOS, GITHUB_BASE_URL".
func locationHint(source string) string {
	var names []string
	for _, v := range Vars {
		if v.Source == source && v.Locates {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, ", ")
}

// baseURLVar names the variable holding a source's API address.
func baseURLVar(source string) string {
	for _, v := range Vars {
		if v.Source == source && strings.HasSuffix(v.Name, "_BASE_URL") {
			return v.Name
		}
	}
	return ""
}

// ConfigTable renders Vars as the README's Markdown table.
func ConfigTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Vars {
		name := "`" + v.Name + "`"
		if v.File {
			name += " / `" + v.Name + "_FILE`"
		}
		def := v.Default
		if def == "" {
			def = "—"
		}
		b.WriteString("| " + name + " | " + def + " | " + v.Doc + " |\n")
	}
	return b.String()
}
