package host_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshflow/meshflow/workers/host"
)

// pki is a throwaway CA with a server certificate for "temporal.test" and a client
// certificate, written as PEM files.
type pki struct {
	dir                   string
	pool                  *x509.CertPool
	server                tls.Certificate
	caFile                string
	clientCert, clientKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := pki{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	issue := func(serial int64, usage x509.ExtKeyUsage, dns []string) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "meshflow test"}, DNSNames: dns,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, []string{"temporal.test"})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	keyDER, _ := x509.MarshalECPrivateKey(cliKey)
	p.clientKey = writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", keyDER)
	return p
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// startTLSFrontend serves the fake frontend over TLS; with mTLS it demands a client
// certificate from the CA, and with apiKey every call must carry it as a bearer token.
func startTLSFrontend(t *testing.T, p pki, mTLS bool, apiKey string) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if mTLS {
		cfg.ClientAuth, cfg.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	auth := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if apiKey != "" {
			md, _ := metadata.FromIncomingContext(ctx)
			if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+apiKey {
				return nil, status.Error(codes.Unauthenticated, "bad API key")
			}
		}
		return next(ctx, req)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)), grpc.UnaryInterceptor(auth))
	f := &fakeFrontend{namespace: "default", attrs: meshAttrs(t)}
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	operatorservice.RegisterOperatorServiceServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// temporalCheck runs the doctor on env and returns its temporal line.
func temporalCheck(t *testing.T, env map[string]string) host.Check {
	t.Helper()
	env["MESHFLOW_LAKE"] = t.TempDir()
	c, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return host.Doctor(context.Background(), c, &host.DoctorOptions{Timeout: 3 * time.Second})[0]
}

func TestTemporalTLSSettings(t *testing.T) {
	p := newPKI(t)
	tlsOnly := startTLSFrontend(t, p, false, "")
	if c := temporalCheck(t, map[string]string{"MESHFLOW_TEMPORAL_ADDRESS": tlsOnly,
		"MESHFLOW_TEMPORAL_TLS_CA_FILE": p.caFile, "MESHFLOW_TEMPORAL_TLS_SERVER_NAME": "temporal.test"}); c.Status != host.OK {
		t.Errorf("TLS with the CA file: %s", c)
	}
	if c := temporalCheck(t, map[string]string{"MESHFLOW_TEMPORAL_ADDRESS": tlsOnly, "MESHFLOW_TEMPORAL_TLS": "true"}); c.Status != host.Fail {
		t.Errorf("TLS with the system roots trusts a private CA: %s", c)
	}
	if c := temporalCheck(t, map[string]string{"MESHFLOW_TEMPORAL_ADDRESS": tlsOnly}); c.Status != host.Fail {
		t.Errorf("plaintext to a TLS frontend: %s", c)
	}

	mtls := startTLSFrontend(t, p, true, "")
	base := map[string]string{"MESHFLOW_TEMPORAL_ADDRESS": mtls, "MESHFLOW_TEMPORAL_TLS_CA_FILE": p.caFile, "MESHFLOW_TEMPORAL_TLS_SERVER_NAME": "temporal.test"}
	if c := temporalCheck(t, clone(base, "MESHFLOW_TEMPORAL_TLS_CERT_FILE", p.clientCert, "MESHFLOW_TEMPORAL_TLS_KEY_FILE", p.clientKey)); c.Status != host.OK {
		t.Errorf("mTLS with the client certificate: %s", c)
	}
	if c := temporalCheck(t, clone(base)); c.Status != host.Fail {
		t.Errorf("mTLS without a client certificate: %s", c)
	}

	keyFile := filepath.Join(p.dir, "api-key")
	if err := os.WriteFile(keyFile, []byte("tmprl-test-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withKey := startTLSFrontend(t, p, false, "tmprl-test-key")
	base = map[string]string{"MESHFLOW_TEMPORAL_ADDRESS": withKey, "MESHFLOW_TEMPORAL_TLS_CA_FILE": p.caFile, "MESHFLOW_TEMPORAL_TLS_SERVER_NAME": "temporal.test"}
	if c := temporalCheck(t, clone(base, "MESHFLOW_TEMPORAL_API_KEY_FILE", keyFile)); c.Status != host.OK {
		t.Errorf("API key from a file: %s", c)
	}
	c := temporalCheck(t, clone(base, "MESHFLOW_TEMPORAL_API_KEY", "wrong-key"))
	if c.Status != host.Fail || strings.Contains(c.Detail, "wrong-key") {
		t.Errorf("wrong API key: %s", c)
	}
}

func clone(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestTemporalTLSConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MESHFLOW_TEMPORAL_TLS_CERT_FILE": "/x.pem"}, "set both MESHFLOW_TEMPORAL_TLS_CERT_FILE and MESHFLOW_TEMPORAL_TLS_KEY_FILE"},
		{map[string]string{"MESHFLOW_TEMPORAL_TLS": "yes please"}, `MESHFLOW_TEMPORAL_TLS="yes please"`},
		{map[string]string{"MESHFLOW_TEMPORAL_TLS": "false", "MESHFLOW_TEMPORAL_API_KEY": "k"}, "MESHFLOW_TEMPORAL_TLS=false contradicts"},
		{map[string]string{"MESHFLOW_TEMPORAL_API_KEY": "k", "MESHFLOW_TEMPORAL_API_KEY_FILE": "/k"}, "both MESHFLOW_TEMPORAL_API_KEY and MESHFLOW_TEMPORAL_API_KEY_FILE"},
	} {
		tc.env["MESHFLOW_LAKE"] = t.TempDir()
		_, err := host.ConfigFromEnv(func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
	// A CA file that holds no certificate is named when dialing.
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c := temporalCheck(t, map[string]string{"MESHFLOW_TEMPORAL_TLS_CA_FILE": bad}); c.Status != host.Fail || !strings.Contains(c.Detail, "MESHFLOW_TEMPORAL_TLS_CA_FILE") {
		t.Errorf("bad CA file: %s", c)
	}
}

func TestCatalogURIFromAFileIsNotPrinted(t *testing.T) {
	f := filepath.Join(t.TempDir(), "catalog_uri")
	if err := os.WriteFile(f, []byte("postgres://meshflow:s3cr3t-pw@postgresql:5432/meshflow_catalog\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := host.ConfigFromEnv(func(k string) string {
		return map[string]string{"MESHFLOW_LAKE": "s3://meshflow/lake", "MESHFLOW_WAREHOUSE": "s3://meshflow/warehouse", "MESHFLOW_CATALOG_URI_FILE": f}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.CatalogURI != "postgres://meshflow:s3cr3t-pw@postgresql:5432/meshflow_catalog" {
		t.Fatalf("CatalogURI = %q", c.CatalogURI)
	}
	if strings.Contains(c.String(), "s3cr3t-pw") {
		t.Fatalf("String() prints the catalog password: %s", c)
	}
}
