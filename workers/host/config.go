// Package host is what a Meshflow worker process does: read its configuration from the
// environment, open the lake and the port catalog, build the configured connectors,
// and run one Temporal worker per hosted domain, each on its domain's task queue.
// It is shared by the worker main (workers/) and `mesh dev`/`mesh demo`.
package host

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
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
	// StopTimeout is how long a stopping worker lets its running activities finish before
	// cancelling them (MESHFLOW_WORKER_STOP_TIMEOUT) [0: cancel at once; a cancelled
	// activity is retried, a landing from its last closed file].
	StopTimeout  time.Duration
	S3           S3Config     // MESHFLOW_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
	TemporalAuth TemporalAuth // MESHFLOW_TEMPORAL_TLS*, MESHFLOW_TEMPORAL_API_KEY
	AccessFile   string       // MESHFLOW_ACCESS_FILE: who may read restricted ports [<lake>/access.yaml for a local lake]
	Token        string       // MESHFLOW_TOKEN or _FILE: this caller's token for restricted ports (mesh show); a secret

	HubSpot    HubSpotConfig
	Jira       JiraConfig
	GitHub     GitHubConfig
	GA4        GA4Config
	Pendo      PendoConfig
	Crunchbase CrunchbaseConfig
}

// JiraConfig configures the Jira Cloud connector.
type JiraConfig struct {
	BaseURL  string   // JIRA_BASE_URL, e.g. https://acme.atlassian.net
	Email    string   // JIRA_EMAIL: the API user
	Token    string   // JIRA_API_TOKEN or JIRA_API_TOKEN_FILE
	Projects []string // JIRA_PROJECTS: comma-separated project keys
	// RequestsPerSecond paces the connector (JIRA_REQUESTS_PER_SECOND) [its
	// default]; the local stack raises it because the sandbox has no site-wide burst
	// limit to respect.
	RequestsPerSecond float64
	HTTPTimeout       time.Duration // JIRA_HTTP_TIMEOUT [the connector's default]
}

// GitHubConfig configures the GitHub connector.
type GitHubConfig struct {
	BaseURL  string   // GITHUB_BASE_URL [https://api.github.com]
	Token    string   // GITHUB_TOKEN or GITHUB_TOKEN_FILE
	Repos    []string // GITHUB_REPOS: comma-separated owner/name
	Branches []string // GITHUB_BRANCHES: branches read besides each repo's default
	// RequestsPerSecond paces the connector (GITHUB_REQUESTS_PER_SECOND) [its
	// default]; see JiraConfig.
	RequestsPerSecond float64
	HTTPTimeout       time.Duration // GITHUB_HTTP_TIMEOUT [the connector's default]
}

// GA4Config configures the Google Analytics 4 connector.
type GA4Config struct {
	BaseURL         string   // GA4_BASE_URL [https://analyticsdata.googleapis.com]
	TokenURL        string   // GA4_TOKEN_URL [Google's]
	CredentialsJSON string   // the service-account key file named by GA4_CREDENTIALS_FILE
	PropertyIDs     []string // GA4_PROPERTY_IDS: comma-separated numeric ids
	StartDate       string   // GA4_START_DATE: first day of a full refresh (YYYY-MM-DD or NdaysAgo) [365daysAgo]
	// RequestsPerSecond paces the connector (GA4_REQUESTS_PER_SECOND) [its
	// default]; see JiraConfig.
	RequestsPerSecond float64
	HTTPTimeout       time.Duration // GA4_HTTP_TIMEOUT [the connector's default]
}

// PendoConfig configures the Pendo connector.
type PendoConfig struct {
	BaseURL        string // PENDO_BASE_URL [https://app.pendo.io]
	IntegrationKey string // PENDO_INTEGRATION_KEY or PENDO_INTEGRATION_KEY_FILE
	TimeZone       string // PENDO_TIME_ZONE: the subscription's time zone, which aligns its day buckets [America/Los_Angeles]
	// HistoryDays is how far back the first event sync reads [365]; MinInterval is the
	// self-imposed gap between calls, 1s / PENDO_REQUESTS_PER_SECOND [the connector's
	// default; negative = none]. The local stack shortens both.
	HistoryDays int
	MinInterval time.Duration
	HTTPTimeout time.Duration // PENDO_HTTP_TIMEOUT [the connector's default]
}

// CrunchbaseConfig configures the Crunchbase connector.
type CrunchbaseConfig struct {
	BaseURL string // CRUNCHBASE_BASE_URL [https://api.crunchbase.com/api/v4]
	UserKey string // CRUNCHBASE_USER_KEY or CRUNCHBASE_USER_KEY_FILE
	// RequestsPerMinute paces the connector (CRUNCHBASE_REQUESTS_PER_MINUTE) [180];
	// negative = unpaced (local sandbox).
	RequestsPerMinute int
	HTTPTimeout       time.Duration // CRUNCHBASE_HTTP_TIMEOUT [the connector's default]
}

// HubSpotConfig configures the HubSpot connector.
type HubSpotConfig struct {
	BaseURL string // HUBSPOT_BASE_URL [https://api.hubapi.com]
	Token   string // HUBSPOT_TOKEN, or the contents of the file named by HUBSPOT_TOKEN_FILE
	// RequestsPerSecond and SearchRequestsPerSecond pace list and search calls
	// (HUBSPOT_REQUESTS_PER_SECOND, HUBSPOT_SEARCH_REQUESTS_PER_SECOND) [the
	// connector's defaults; negative = unpaced].
	RequestsPerSecond, SearchRequestsPerSecond float64
	HTTPTimeout                                time.Duration // HUBSPOT_HTTP_TIMEOUT [the connector's default]
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
	token, err := readSecret(getenv, "HUBSPOT_TOKEN")
	if err != nil {
		return Config{}, err
	}
	c.HubSpot = HubSpotConfig{BaseURL: or(getenv("HUBSPOT_BASE_URL"), "https://api.hubapi.com"), Token: token}

	secrets := map[string]*string{
		"JIRA_API_TOKEN": &c.Jira.Token, "GITHUB_TOKEN": &c.GitHub.Token,
		"PENDO_INTEGRATION_KEY": &c.Pendo.IntegrationKey, "CRUNCHBASE_USER_KEY": &c.Crunchbase.UserKey,
	}
	for name, dst := range secrets {
		v, err := readSecret(getenv, name)
		if err != nil {
			return Config{}, err
		}
		*dst = v
	}
	c.Jira.BaseURL, c.Jira.Email, c.Jira.Projects = getenv("JIRA_BASE_URL"), getenv("JIRA_EMAIL"), list(getenv("JIRA_PROJECTS"))
	c.GitHub.BaseURL, c.GitHub.Repos = or(getenv("GITHUB_BASE_URL"), "https://api.github.com"), list(getenv("GITHUB_REPOS"))
	c.GitHub.Branches = list(getenv("GITHUB_BRANCHES"))
	c.Pendo.BaseURL, c.Pendo.TimeZone = or(getenv("PENDO_BASE_URL"), "https://app.pendo.io"), getenv("PENDO_TIME_ZONE")
	c.Crunchbase.BaseURL = or(getenv("CRUNCHBASE_BASE_URL"), "https://api.crunchbase.com/api/v4")
	c.GA4.BaseURL, c.GA4.TokenURL, c.GA4.PropertyIDs = getenv("GA4_BASE_URL"), getenv("GA4_TOKEN_URL"), list(getenv("GA4_PROPERTY_IDS"))
	c.GA4.StartDate = getenv("GA4_START_DATE")
	if f := getenv("GA4_CREDENTIALS_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return Config{}, errs.Errorf(errs.Invalid, "configure", "read GA4_CREDENTIALS_FILE: %v", err)
		}
		c.GA4.CredentialsJSON = string(b)
	}
	if err := readPacing(getenv, &c); err != nil {
		return Config{}, err
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
	v, file := getenv(name), getenv(name+"_FILE")
	if v != "" && file != "" {
		return "", errs.Errorf(errs.Invalid, "configure", "both %s and %s_FILE are set: keep one", name, name)
	}
	if file == "" {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", errs.Errorf(errs.Invalid, "configure", "read %s_FILE: %v", name, err)
	}
	return strings.TrimSpace(string(b)), nil
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

// AllSources names every connector a worker can host.
var AllSources = []string{"crunchbase", "github", "googleanalytics", "hubspot", "jira", "pendo"}

// ConfiguredSources names the sources whose credentials are set.
func (c Config) ConfiguredSources() []string {
	var out []string
	for name, set := range map[string]bool{
		"hubspot": c.HubSpot.Token != "", "jira": c.Jira.Token != "", "github": c.GitHub.Token != "",
		"googleanalytics": c.GA4.CredentialsJSON != "", "pendo": c.Pendo.IntegrationKey != "", "crunchbase": c.Crunchbase.UserKey != "",
	} {
		if set {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
