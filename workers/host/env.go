package host

import (
	"strings"

	"github.com/meshflow/meshflow/framework/source"
)

// meshVars are the variables of the mesh itself, in the README's order.
var meshVars = []source.Var{
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
	{Name: "MESHFLOW_METRICS_ADDR", Default: "none", Doc: "where a worker serves its Prometheus metrics, `GET /metrics` (`:9464`); `mesh serve` serves them on its own address"},
	{Name: "MESHFLOW_WORKER_STOP_TIMEOUT", Default: "`0s`", Doc: "how long a stopping worker lets running activities finish before cancelling them (`50s`: below the orchestrator's grace period); a cancelled one is retried"},
	{Name: "MESHFLOW_ACCESS_FILE", Default: "`<lake>/access.yaml` for a local lake", Doc: "who may read restricted ports"},
	{Name: "MESHFLOW_TOKEN", File: true, Secret: true, Doc: "this caller's token for restricted ports (`mesh show`)"},
}

// Vars is every environment variable ConfigFromEnv reads, in the README's order:
// the mesh's own, then each connector's (Connectors). It is the one list: the
// README's configuration table is rendered from it, a test checks that
// ConfigFromEnv reads exactly these, and the compose test checks every environment
// of docker-compose.yml against it.
func Vars() []source.Var {
	out := append(append(append([]source.Var(nil), meshVars...), alertVars...), lineageVars...)
	for _, c := range Connectors() {
		out = append(out, c.Vars...)
	}
	return out
}

// Defaults of the mesh's own variables.
const (
	DefaultTemporalAddress = "127.0.0.1:7233"
	DefaultNamespace       = "default"
	DefaultLogLevel        = "info"
)

// LookupVar returns the variable named name, also when name is the NAME_FILE form of
// a variable that takes one.
func LookupVar(name string) (source.Var, bool) {
	for _, v := range Vars() {
		if v.Name == name || (v.File && v.Name+"_FILE" == name) {
			return v, true
		}
	}
	return source.Var{}, false
}

// credentialHint names the variables that authenticate to a source, for a message
// saying what to set or fix: "JIRA_EMAIL, JIRA_API_TOKEN or JIRA_API_TOKEN_FILE".
func credentialHint(c source.Connector) string {
	var names []string
	for _, v := range c.Vars {
		if !v.Credential {
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
func locationHint(c source.Connector) string {
	var names []string
	for _, v := range c.Vars {
		if v.Locates {
			names = append(names, v.Name)
		}
	}
	return strings.Join(names, ", ")
}

// baseURL is the variable holding a source's API address and the address vals
// give it (its literal default when unset).
func baseURL(c source.Connector, vals source.Values) (name, url string) {
	for _, v := range c.Vars {
		if strings.HasSuffix(v.Name, "_BASE_URL") {
			lit, _ := v.Literal()
			return v.Name, vals.Or(v.Name, lit)
		}
	}
	// A source that is no API (a bucket of files) is where its locating variable says.
	for _, v := range c.Vars {
		if v.Locates && v.Credential {
			return v.Name, vals.Get(v.Name)
		}
	}
	return "", ""
}

// ConfigTable renders Vars as the README's Markdown table.
func ConfigTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Vars() {
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
