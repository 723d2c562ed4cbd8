package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strconv"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/tlog"
)

// TemporalAuth is how the worker and the CLI authenticate to a Temporal frontend that
// is not a local dev server: TLS (with a client certificate for a self-hosted cluster
// with mTLS) and an API key (Temporal Cloud). The zero value dials in plaintext.
type TemporalAuth struct {
	TLS        bool   // MESHFLOW_TEMPORAL_TLS; implied by every other field
	CAFile     string // MESHFLOW_TEMPORAL_TLS_CA_FILE: PEM roots of the frontend's certificate [the system's]
	CertFile   string // MESHFLOW_TEMPORAL_TLS_CERT_FILE: client certificate (PEM) for mTLS
	KeyFile    string // MESHFLOW_TEMPORAL_TLS_KEY_FILE: its private key (PEM)
	ServerName string // MESHFLOW_TEMPORAL_TLS_SERVER_NAME [the host of MESHFLOW_TEMPORAL_ADDRESS]
	APIKey     string // MESHFLOW_TEMPORAL_API_KEY, or the file named by MESHFLOW_TEMPORAL_API_KEY_FILE
}

// readTemporalAuth reads the TLS and API key settings. The certificate files are read
// when dialing, so a rotated certificate is picked up by the next process start.
func readTemporalAuth(getenv func(string) string) (TemporalAuth, error) {
	a := TemporalAuth{
		CAFile:     getenv("MESHFLOW_TEMPORAL_TLS_CA_FILE"),
		CertFile:   getenv("MESHFLOW_TEMPORAL_TLS_CERT_FILE"),
		KeyFile:    getenv("MESHFLOW_TEMPORAL_TLS_KEY_FILE"),
		ServerName: getenv("MESHFLOW_TEMPORAL_TLS_SERVER_NAME"),
	}
	off := false // TLS explicitly turned off
	if v := getenv("MESHFLOW_TEMPORAL_TLS"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return TemporalAuth{}, errs.Errorf(errs.Invalid, "configure", "MESHFLOW_TEMPORAL_TLS=%q: want true or false", v)
		}
		a.TLS, off = on, !on
	}
	key, err := readSecret(getenv, "MESHFLOW_TEMPORAL_API_KEY")
	if err != nil {
		return TemporalAuth{}, err
	}
	a.APIKey = key
	if (a.CertFile == "") != (a.KeyFile == "") {
		return TemporalAuth{}, errs.Errorf(errs.Invalid, "configure", "set both MESHFLOW_TEMPORAL_TLS_CERT_FILE and MESHFLOW_TEMPORAL_TLS_KEY_FILE for mTLS, or neither")
	}
	if off && a.tls() {
		return TemporalAuth{}, errs.Errorf(errs.Invalid, "configure", "MESHFLOW_TEMPORAL_TLS=false contradicts the TLS files or API key that are set (an API key is only sent over TLS): unset one or the other")
	}
	a.TLS = a.tls()
	return a, nil
}

// tls reports whether the frontend is dialed over TLS.
func (a TemporalAuth) tls() bool {
	return a.TLS || a.CAFile != "" || a.CertFile != "" || a.ServerName != "" || a.APIKey != ""
}

// tlsConfig builds the TLS configuration for a frontend at address (nil: plaintext).
func (a TemporalAuth) tlsConfig(address string) (*tls.Config, error) {
	if !a.tls() {
		return nil, nil
	}
	const op = "dial temporal"
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: a.ServerName}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			cfg.ServerName = host
		}
	}
	if a.CAFile != "" {
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, errs.Errorf(errs.Invalid, op, "read MESHFLOW_TEMPORAL_TLS_CA_FILE: %v", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, errs.Errorf(errs.Invalid, op, "MESHFLOW_TEMPORAL_TLS_CA_FILE %s holds no PEM certificate", a.CAFile)
		}
		cfg.RootCAs = roots
	}
	if a.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(a.CertFile, a.KeyFile)
		if err != nil {
			return nil, errs.Errorf(errs.Invalid, op, "load the client certificate (MESHFLOW_TEMPORAL_TLS_CERT_FILE, MESHFLOW_TEMPORAL_TLS_KEY_FILE): %v", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ClientOptions are the Temporal client options of the configuration, logging through
// log at warn level and above.
func (c Config) ClientOptions(log zerolog.Logger) (client.Options, error) {
	tlsCfg, err := c.TemporalAuth.tlsConfig(c.TemporalAddress)
	if err != nil {
		return client.Options{}, err
	}
	o := client.Options{
		HostPort:          c.TemporalAddress,
		Namespace:         c.Namespace,
		Logger:            tlog.New(log.Level(zerolog.WarnLevel)),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsCfg},
		MetricsHandler:    TemporalMetrics(log),
	}
	if c.TemporalAuth.APIKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(c.TemporalAuth.APIKey)
	}
	return o, nil
}

// TemporalMetrics sends the SDK's own metrics (workflow and activity counts and
// latencies, task queue polls, requests) to the process's meter provider, which
// telemetry.Handler installs and serves.
func TemporalMetrics(log zerolog.Logger) client.MetricsHandler {
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		// The handler's default panics on an instrument error; a metric is not worth a crash.
		OnError: func(err error) { log.Warn().Err(err).Msg("temporal metrics") },
	})
}

// DialContext connects to Temporal; ctx bounds the first connection.
func DialContext(ctx context.Context, c Config, log zerolog.Logger) (client.Client, error) {
	opts, err := c.ClientOptions(log)
	if err != nil {
		return nil, err
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, errs.Errorf(errs.Transient, "dial temporal", "cannot reach Temporal at %s (namespace %s): %v; start it with `make dev` or set MESHFLOW_TEMPORAL_ADDRESS", c.TemporalAddress, c.Namespace, err)
	}
	return cl, nil
}
