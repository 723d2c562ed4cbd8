package googleanalytics

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
)

// Names of the environment variables cmd/ and workers/ read the config from. The
// connector never reads them itself; it names them in errors so a user knows what
// to fix. GA4_CREDENTIALS_FILE is a path: the caller reads the file into
// Config.CredentialsJSON.
const (
	CredentialsFileEnv = "GA4_CREDENTIALS_FILE"
	PropertyIDsEnv     = "GA4_PROPERTY_IDS" // comma-separated numeric property ids
	BaseURLEnv         = "GA4_BASE_URL"
	TokenURLEnv        = "GA4_TOKEN_URL"
	StartDateEnv       = "GA4_START_DATE"

	RequestsPerSecondEnv = "GA4_REQUESTS_PER_SECOND"
	HTTPTimeoutEnv       = "GA4_HTTP_TIMEOUT"
)

// Pacing and timeout defaults. GA4 limits a property's tokens per hour and per day
// and its concurrent requests (10), not a rate: exhausted tokens are an errs.Quota
// the run waits out, so pacing only keeps bursts polite.
const (
	DefaultRequestsPerSecond = 5
	DefaultHTTPTimeout       = 60 * time.Second
)

// DefaultBaseURL is the Google Analytics Data API; requests go to
// {BaseURL}/v1beta/properties/{id}:runReport.
const DefaultBaseURL = "https://analyticsdata.googleapis.com"

// DefaultTokenURL is Google's OAuth token endpoint, used when neither
// Config.TokenURL nor the key file's token_uri says otherwise.
const DefaultTokenURL = "https://oauth2.googleapis.com/token"

// Scope is the one OAuth scope the connector asks for.
const Scope = "https://www.googleapis.com/auth/analytics.readonly"

// Defaults of the report shape and the incremental window.
var (
	DefaultDimensions = []string{"date", "sessionDefaultChannelGroup", "landingPage"}
	DefaultMetrics    = []string{"sessions", "totalUsers", "conversions"}
)

const (
	DefaultLookbackDays = 3
	DefaultStartDate    = "365daysAgo"
	DefaultPageSize     = 10_000  // GA4's default limit
	MaxPageSize         = 250_000 // GA4 returns at most this many rows per request

	maxDimensions = 9
	maxMetrics    = 10
	maxLookback   = 60
)

// Config is what a user configures. Zero values of TokenURL, BaseURL, Dimensions,
// Metrics, LookbackDays, StartDate and PageSize take defaults.
type Config struct {
	// PropertyIDs are the numeric GA4 property ids to read (not G-… measurement
	// ids), from GA4_PROPERTY_IDS.
	PropertyIDs []string
	// CredentialsJSON is the contents of a service-account key file (JSON, type
	// "service_account"); GA4_CREDENTIALS_FILE names the file. The service
	// account's email must be a Viewer of every property.
	CredentialsJSON secret.Value
	// TokenURL overrides the token endpoint [the key file's token_uri, else
	// DefaultTokenURL]; a sandbox's in tests and demos.
	TokenURL string
	BaseURL  string // [DefaultBaseURL]; a sandbox's GA4 URL in tests and demos

	// Dimensions and Metrics shape the report [DefaultDimensions, DefaultMetrics].
	// "date" is always a dimension (it is added first when missing): every report
	// covers one day. At most 9 dimensions and 10 metrics, as GA4 allows.
	Dimensions, Metrics []string
	// LookbackDays is how many days before the last complete day an incremental
	// sync pulls again, because GA4 numbers settle over 24–48 h [3].
	LookbackDays int
	// StartDate is the first day a full refresh reads, YYYY-MM-DD or NdaysAgo
	// (counted from the sync's UTC day) [DefaultStartDate].
	StartDate string
	// PageSize is rows per request, up to MaxPageSize [DefaultPageSize].
	PageSize int
}

var (
	propertyID = regexp.MustCompile(`^[0-9]+$`)
	apiName    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_:]*$`)
	relDate    = regexp.MustCompile(`^([0-9]+)daysAgo$`)
)

// Validate reports a config that cannot work, naming the variable to fix. It never
// prints the key.
func (c Config) Validate() error {
	const op = "googleanalytics: config"
	if len(c.PropertyIDs) == 0 {
		return errs.Errorf(errs.Invalid, op, "%s is not set: list the numeric ids of the GA4 properties to read, comma-separated (GA4 Admin → Property settings → Property ID)", PropertyIDsEnv)
	}
	seen := map[string]bool{}
	for _, id := range c.PropertyIDs {
		id = strings.TrimSpace(id)
		switch {
		case strings.HasPrefix(strings.ToUpper(id), "G-"):
			return errs.Errorf(errs.Invalid, op, "%s holds %q, a measurement id of a web stream: use the numeric property id (GA4 Admin → Property settings → Property ID)", PropertyIDsEnv, id)
		case !propertyID.MatchString(id):
			return errs.Errorf(errs.Invalid, op, "%s holds %q, not a numeric GA4 property id such as 123456789", PropertyIDsEnv, id)
		case seen[id]:
			return errs.Errorf(errs.Invalid, op, "%s lists property %s twice", PropertyIDsEnv, id)
		}
		seen[id] = true
	}
	if _, err := parseKey(c.CredentialsJSON); err != nil {
		return err
	}
	for env, u := range map[string]string{BaseURLEnv: c.BaseURL, TokenURLEnv: c.TokenURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return errs.Errorf(errs.Invalid, op, "%s %q is not an absolute http(s) URL", env, u)
		}
	}
	dims, metrics := shape(c)
	if len(dims) > maxDimensions {
		return errs.Errorf(errs.Invalid, op, "%d dimensions (date included); GA4 allows %d per report", len(dims), maxDimensions)
	}
	if len(metrics) > maxMetrics {
		return errs.Errorf(errs.Invalid, op, "%d metrics; GA4 allows %d per report", len(metrics), maxMetrics)
	}
	names := map[string]string{"property_id": "the property id", "pulled_at": "the pull time"}
	for _, n := range append(append([]string{}, dims...), metrics...) {
		if !apiName.MatchString(n) {
			return errs.Errorf(errs.Invalid, op, "%q is not a GA4 dimension or metric API name (such as sessionDefaultChannelGroup or customEvent:plan)", n)
		}
		col := column(n)
		if other, ok := names[col]; ok {
			return errs.Errorf(errs.Invalid, op, "%q and %s would both be the column %s", n, other, col)
		}
		names[col] = strconv.Quote(n)
	}
	switch {
	case c.LookbackDays < 0 || c.LookbackDays > maxLookback:
		return errs.Errorf(errs.Invalid, op, "lookback of %d days is outside 0..%d (0 = %d)", c.LookbackDays, maxLookback, DefaultLookbackDays)
	case c.PageSize < 0 || c.PageSize > MaxPageSize:
		return errs.Errorf(errs.Invalid, op, "page size %d is outside 1..%d (0 = %d)", c.PageSize, MaxPageSize, DefaultPageSize)
	}
	if c.StartDate != "" && !relDate.MatchString(c.StartDate) {
		if _, err := time.Parse(time.DateOnly, c.StartDate); err != nil {
			return errs.Errorf(errs.Invalid, op, "%s %q is neither YYYY-MM-DD nor NdaysAgo", StartDateEnv, c.StartDate)
		}
	}
	return nil
}

// shape is the dimensions and metrics a report asks for, defaults applied and
// "date" first.
func shape(c Config) (dims, metrics []string) {
	dims = c.Dimensions
	if len(dims) == 0 {
		dims = DefaultDimensions
	}
	out := []string{"date"}
	for _, d := range dims {
		if d = strings.TrimSpace(d); d != "date" {
			out = append(out, d)
		}
	}
	metrics = c.Metrics
	if len(metrics) == 0 {
		metrics = DefaultMetrics
	}
	var ms []string
	for _, m := range metrics {
		ms = append(ms, strings.TrimSpace(m))
	}
	return out, ms
}

// keyFile is what the connector reads of a service-account key file.
type keyFile struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// credentials is a parsed key file; the key stays a secret.Value so printing a
// Source cannot show it.
type credentials struct {
	email, keyID, tokenURI string
	key                    secret.Value // PEM
}

// parseKey checks the key file without ever echoing it: error messages name the
// variable and the problem, not the content.
func parseKey(v secret.Value) (credentials, error) {
	const op = "googleanalytics: config"
	raw := strings.TrimSpace(v.Reveal())
	if raw == "" {
		return credentials{}, errs.Errorf(errs.Invalid, op, "%s is not set: create a service account in Google Cloud, add its email as a Viewer of each GA4 property (Admin → Property access management), create a JSON key for it and point %s at the downloaded file", CredentialsFileEnv, CredentialsFileEnv)
	}
	var f keyFile
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return credentials{}, errs.Errorf(errs.Invalid, op, "the file %s names is not JSON: it should be a service-account key file as Google Cloud downloads it", CredentialsFileEnv)
	}
	switch {
	case f.Type != "service_account":
		return credentials{}, errs.Errorf(errs.Invalid, op, "the file %s names holds %q credentials, not a service-account key (type \"service_account\"): OAuth client secrets and user credentials cannot run unattended", CredentialsFileEnv, f.Type)
	case f.ClientEmail == "":
		return credentials{}, errs.Errorf(errs.Invalid, op, "the key file %s names has no client_email", CredentialsFileEnv)
	case f.PrivateKey == "":
		return credentials{}, errs.Errorf(errs.Invalid, op, "the key file %s names has no private_key", CredentialsFileEnv)
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return credentials{}, errs.Errorf(errs.Invalid, op, "the private_key in the key file %s names is not PEM: download the key file again", CredentialsFileEnv)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if _, ok := k.(*rsa.PrivateKey); err != nil || !ok {
		return credentials{}, errs.Errorf(errs.Invalid, op, "the private_key in the key file %s names is not an RSA key: download the key file again", CredentialsFileEnv)
	}
	return credentials{email: f.ClientEmail, keyID: f.PrivateKeyID, tokenURI: f.TokenURI, key: secret.Value(f.PrivateKey)}, nil
}

// Options tunes the client beyond what users configure; nil means defaults.
type Options struct {
	HTTPClient *http.Client // [a client with HTTPTimeout]
	// HTTPTimeout bounds one request, its body included [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	// RequestsPerSecond paces runReport calls [DefaultRequestsPerSecond];
	// negative = unpaced.
	RequestsPerSecond float64
	// Now is the clock for pulled_at, quota reset times and a missing SyncStart [time.Now].
	Now func() time.Time
}
