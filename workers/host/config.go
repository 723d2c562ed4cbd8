// Package host is what a Meshflow worker process does: read its configuration from the
// environment, open the lake and the port catalog, build the configured connectors,
// and run one Temporal worker per hosted domain, each on its domain's task queue.
// It is shared by the worker main (workers/) and `mesh dev`/`mesh demo`.
package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// Config is a worker's whole configuration. Every environment variable Meshflow reads
// is read in ConfigFromEnv, and only there.
type Config struct {
	TemporalAddress string   // MESHFLOW_TEMPORAL_ADDRESS [127.0.0.1:7233]
	Namespace       string   // MESHFLOW_TEMPORAL_NAMESPACE [default]
	Lake            string   // MESHFLOW_LAKE: directory or bucket URL [./.meshflow]
	CatalogURI      string   // MESHFLOW_CATALOG_URI [sqlite file in the lake directory]
	Warehouse       string   // MESHFLOW_WAREHOUSE [<lake>/warehouse]
	WorkDir         string   // MESHFLOW_WORKDIR: scratch space for DuckDB [OS temp dir]
	Domains         []string // MESHFLOW_DOMAINS: comma-separated domains to host [all]
	LogLevel        string   // MESHFLOW_LOG_LEVEL [info]

	HubSpot HubSpotConfig
}

// HubSpotConfig configures the HubSpot connector.
type HubSpotConfig struct {
	BaseURL string // HUBSPOT_BASE_URL [https://api.hubapi.com]
	Token   string // HUBSPOT_TOKEN, or the contents of the file named by HUBSPOT_TOKEN_FILE
}

// DefaultLake is where the embedded lake lives unless MESHFLOW_LAKE says otherwise.
const DefaultLake = ".meshflow"

// ConfigFromEnv reads the configuration; getenv is os.Getenv outside tests.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TemporalAddress: or(getenv("MESHFLOW_TEMPORAL_ADDRESS"), "127.0.0.1:7233"),
		Namespace:       or(getenv("MESHFLOW_TEMPORAL_NAMESPACE"), "default"),
		Lake:            or(getenv("MESHFLOW_LAKE"), DefaultLake),
		CatalogURI:      getenv("MESHFLOW_CATALOG_URI"),
		Warehouse:       getenv("MESHFLOW_WAREHOUSE"),
		WorkDir:         getenv("MESHFLOW_WORKDIR"),
		LogLevel:        or(getenv("MESHFLOW_LOG_LEVEL"), "info"),
	}
	for _, d := range strings.Split(getenv("MESHFLOW_DOMAINS"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.Domains = append(c.Domains, d)
		}
	}
	token, err := secret(getenv, "HUBSPOT_TOKEN")
	if err != nil {
		return Config{}, err
	}
	c.HubSpot = HubSpotConfig{BaseURL: or(getenv("HUBSPOT_BASE_URL"), "https://api.hubapi.com"), Token: token}
	return c, c.fill()
}

// fill derives the catalog and warehouse locations of a local lake.
func (c *Config) fill() error {
	if strings.Contains(c.Lake, "://") && !strings.HasPrefix(c.Lake, "file://") {
		if c.CatalogURI == "" || c.Warehouse == "" {
			return errs.Errorf(errs.Invalid, "configure", "lake %s is not local: set MESHFLOW_CATALOG_URI and MESHFLOW_WAREHOUSE too", c.Lake)
		}
		return nil
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
	return nil
}

// secret reads NAME, or the file named by NAME_FILE (for mounted secrets); never both.
func secret(getenv func(string) string, name string) (string, error) {
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
	hs := "not configured"
	if c.HubSpot.Token != "" {
		hs = c.HubSpot.BaseURL + " (token set)"
	}
	return fmt.Sprintf("temporal=%s namespace=%s lake=%s catalog=%s hubspot=%s", c.TemporalAddress, c.Namespace, c.Lake, c.CatalogURI, hs)
}
