// Package host is what a Meshflow worker process does: read its configuration from the
// environment, open the lake and the port catalog, build the configured connectors,
// and run one Temporal worker per hosted domain, each on its domain's task queue.
// It is shared by the worker main (workers/) and `mesh dev`/`mesh demo`.
package host

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/alert"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lineage"
	"github.com/meshflow/meshflow/framework/source"
)

// Config is a worker's whole configuration. Every environment variable Meshflow reads
// is read in ConfigFromEnv, and only there.
type Config struct {
	TemporalAddress string   // MESHFLOW_TEMPORAL_ADDRESS [127.0.0.1:7233]
	Namespace       string   // MESHFLOW_TEMPORAL_NAMESPACE [default]
	Lake            string   // MESHFLOW_LAKE: directory or bucket URL [./.meshflow]
	CatalogURI      string   // MESHFLOW_CATALOG_URI or _FILE (a PostgreSQL URI holds a password) [sqlite file in the lake directory]
	Warehouse       string   // MESHFLOW_WAREHOUSE [<lake>/warehouse]
	WorkDir         string   // MESHFLOW_WORKDIR: scratch space for DuckDB [OS temp dir]
	Domains         []string // MESHFLOW_DOMAINS: comma-separated domains to host [all]
	LogLevel        string   // MESHFLOW_LOG_LEVEL [info]
	MetricsAddr     string   // MESHFLOW_METRICS_ADDR: a worker's Prometheus endpoint (host:port) [none]
	// StopTimeout is how long a stopping worker lets its running activities finish before
	// cancelling them (MESHFLOW_WORKER_STOP_TIMEOUT) [0: cancel at once; a cancelled
	// activity is retried, a landing from its last closed file].
	StopTimeout  time.Duration
	S3           S3Config     // MESHFLOW_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	TemporalAuth TemporalAuth // MESHFLOW_TEMPORAL_TLS*, MESHFLOW_TEMPORAL_API_KEY
	AccessFile   string       // MESHFLOW_ACCESS_FILE: who may read restricted ports [<lake>/access.yaml for a local lake]
	Token        string       // MESHFLOW_TOKEN or _FILE: this caller's token for restricted ports (mesh show); a secret
	Alerts       alert.Config // MESHFLOW_ALERTS_*, MESHFLOW_TEMPORAL_UI_URL, MESHFLOW_CATALOG_PUBLIC_URL (alerts.go)
	// ModelsDir, when set (mesh dev in a checkout; no variable sets it), is the
	// repository whose domains/ model files, as saved, each run starts from instead of
	// the ones built in (mesh.Mesh.FromDisk), and whose source spec files each landing
	// reads again when they changed: an edit shows at the next run.
	ModelsDir string

	// Sources holds each connector's configuration by its name (Connectors): its
	// variables' values, a NAME_FILE or key file already read. A connector whose
	// credentials are not among them is not built. Copies of a Config share the
	// map: change one through WithSource.
	Sources map[string]source.Values

	// Lineage says where OpenLineage run events go: MESHFLOW_OPENLINEAGE_* (lineage.go).
	Lineage lineage.Config
}

// DefaultLake is where the embedded lake lives unless MESHFLOW_LAKE says otherwise.
const DefaultLake = ".meshflow"

// ConfigFromEnv reads the configuration; getenv is os.Getenv outside tests.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TemporalAddress: or(getenv("MESHFLOW_TEMPORAL_ADDRESS"), DefaultTemporalAddress),
		Namespace:       or(getenv("MESHFLOW_TEMPORAL_NAMESPACE"), DefaultNamespace),
		Lake:            or(getenv("MESHFLOW_LAKE"), DefaultLake),
		Warehouse:       getenv("MESHFLOW_WAREHOUSE"),
		WorkDir:         getenv("MESHFLOW_WORKDIR"),
		LogLevel:        or(getenv("MESHFLOW_LOG_LEVEL"), DefaultLogLevel),
		MetricsAddr:     getenv("MESHFLOW_METRICS_ADDR"),
	}
	c.Domains = list(getenv("MESHFLOW_DOMAINS"))
	if v := getenv("MESHFLOW_WORKER_STOP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return Config{}, errs.Errorf(errs.Invalid, "configure", "MESHFLOW_WORKER_STOP_TIMEOUT=%q is not a duration such as 50s or 2m", v)
		}
		c.StopTimeout = d
	}
	c.AccessFile = getenv("MESHFLOW_ACCESS_FILE")
	meshToken, err := readSecret(getenv, "MESHFLOW_TOKEN")
	if err != nil {
		return Config{}, err
	}
	c.Token = meshToken
	c.Sources = map[string]source.Values{}
	for _, conn := range Connectors() {
		vals, err := source.ReadVars(conn.Vars, getenv)
		if err != nil {
			return Config{}, err
		}
		c.Sources[conn.Name] = vals
	}
	if c.S3, err = readS3(getenv); err != nil {
		return Config{}, err
	}
	if c.CatalogURI, err = readSecret(getenv, "MESHFLOW_CATALOG_URI"); err != nil {
		return Config{}, err
	}
	if c.TemporalAuth, err = readTemporalAuth(getenv); err != nil {
		return Config{}, err
	}
	if c.Alerts, err = readAlerts(getenv); err != nil {
		return Config{}, err
	}
	if c.Lineage, err = readLineage(getenv); err != nil {
		return Config{}, err
	}
	return c, c.fill()
}

// fill derives the catalog and warehouse locations of a local lake.
func (c *Config) fill() error {
	if strings.Contains(c.Lake, "://") && !strings.HasPrefix(c.Lake, "file://") {
		if c.CatalogURI == "" || c.Warehouse == "" {
			return errs.Errorf(errs.Invalid, "configure", "lake %s is not local: set MESHFLOW_CATALOG_URI and MESHFLOW_WAREHOUSE too", c.Lake)
		}
		lakeURL, err := c.S3.lakeURL(c.Lake)
		c.Lake = lakeURL
		return err
	}
	dir := strings.TrimPrefix(c.Lake, "file://")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return errs.E(errs.Invalid, "configure", err)
	}
	c.Lake = abs
	if c.CatalogURI == "" {
		c.CatalogURI = "sqlite://" + filepath.Join(abs, "catalog.db")
	}
	if c.Warehouse == "" {
		c.Warehouse = "file://" + filepath.Join(abs, "warehouse")
	}
	if c.AccessFile == "" {
		c.AccessFile = filepath.Join(abs, "access.yaml")
	}
	return nil
}

// readSecret reads NAME, or the file named by NAME_FILE (for mounted secrets); never both.
func readSecret(getenv func(string) string, name string) (string, error) {
	return source.ReadVar(source.Var{Name: name, File: true}, getenv)
}

// list splits a comma-separated variable, dropping blanks.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// HostsDomain reports whether the worker hosts the named domain.
func (c Config) HostsDomain(name string) bool {
	if len(c.Domains) == 0 {
		return true
	}
	for _, d := range c.Domains {
		if d == name {
			return true
		}
	}
	return false
}

// String describes the configuration without secrets.
func (c Config) String() string {
	catalog := c.CatalogURI
	if u, err := url.Parse(catalog); err == nil {
		catalog = u.Redacted() // postgres://user:xxxxx@host/db
	} else if scheme, _, ok := strings.Cut(catalog, "://"); ok {
		catalog = scheme + "://…"
	}
	return fmt.Sprintf("temporal=%s namespace=%s lake=%s catalog=%s sources=%s", c.TemporalAddress, c.Namespace, c.Lake, catalog, strings.Join(c.ConfiguredSources(), ","))
}

// ConfiguredSources names the connectors whose credentials are set, sorted.
func (c Config) ConfiguredSources() []string {
	var out []string
	for _, conn := range Connectors() {
		if conn.Configured(c.Sources[conn.Name]) {
			out = append(out, conn.Name)
		}
	}
	sort.Strings(out)
	return out
}

// WithValue returns c with one variable of the named connector set to value ("":
// unset), leaving c unchanged.
func (c Config) WithValue(name, variable, value string) Config {
	vals := maps.Clone(c.Sources[name])
	if vals == nil {
		vals = source.Values{}
	}
	vals[variable] = value
	return c.WithSource(name, vals)
}

// WithSource returns c with the named connector configured by vals, leaving c
// unchanged (copies of a Config share its Sources map).
func (c Config) WithSource(name string, vals source.Values) Config {
	srcs := maps.Clone(c.Sources)
	if srcs == nil {
		srcs = map[string]source.Values{}
	}
	srcs[name] = vals
	c.Sources = srcs
	return c
}
