package host

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	icebergio "github.com/apache/iceberg-go/io"
)

func TestS3ReachesTheLakeAndTheWarehouse(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ConfigFromEnv(envOf(map[string]string{
		"MESHFLOW_LAKE":              "s3://mesh/lake",
		"MESHFLOW_WAREHOUSE":         "s3://mesh/warehouse",
		"MESHFLOW_CATALOG_URI":       "postgres://mesh:pw@db/mesh",
		"MESHFLOW_S3_ENDPOINT":       "http://127.0.0.1:7070/",
		"AWS_ACCESS_KEY_ID":          "AKIDMESH",
		"AWS_SECRET_ACCESS_KEY_FILE": secret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.Lake)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "mesh" || q.Get("endpoint") != "http://127.0.0.1:7070" || q.Get("use_path_style") != "true" || q.Get("region") != "us-east-1" {
		t.Fatalf("lake URL %s: want the endpoint, path style and the default region", c.Lake)
	}
	props := c.S3.IcebergProperties()
	want := map[string]string{
		icebergio.S3EndpointURL: "http://127.0.0.1:7070", icebergio.S3Region: "us-east-1",
		icebergio.S3AccessKeyID: "AKIDMESH", icebergio.S3SecretAccessKey: "s3cr3t-key",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("iceberg property %s = %q, want %q", k, props[k], v)
		}
	}
	if o := c.S3.LakeOptions(); o == nil || o.S3 == nil || o.S3.AccessKeyID != "AKIDMESH" || o.S3.SecretAccessKey.Reveal() != "s3cr3t-key" {
		t.Fatalf("lake options %+v do not carry the key", o)
	}
	for _, s := range []string{c.String(), c.Lake} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, ":pw@") {
			t.Errorf("%q shows a secret", s)
		}
	}

	// A lake URL's own parameters win; without an endpoint, AWS is addressed as usual.
	c, err = ConfigFromEnv(envOf(map[string]string{
		"MESHFLOW_LAKE": "s3://mesh?region=eu-west-1", "MESHFLOW_WAREHOUSE": "s3://mesh/warehouse",
		"MESHFLOW_CATALOG_URI": "postgres://db/mesh", "AWS_REGION": "us-west-2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Lake != "s3://mesh?region=eu-west-1" || c.S3.LakeOptions() != nil {
		t.Fatalf("lake %s, options %+v", c.Lake, c.S3.LakeOptions())
	}
	if props := c.S3.IcebergProperties(); len(props) != 1 || props[icebergio.S3Region] != "us-west-2" {
		t.Fatalf("iceberg properties %v, want only the region", props)
	}
}

func TestS3ConfigErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AWS_ACCESS_KEY_ID": "AKID"}, "AWS_SECRET_ACCESS_KEY"},
		{map[string]string{"MESHFLOW_S3_ENDPOINT": "127.0.0.1:7070"}, "MESHFLOW_S3_ENDPOINT"},
		{map[string]string{"AWS_SECRET_ACCESS_KEY": "a", "AWS_SECRET_ACCESS_KEY_FILE": "/x"}, "both AWS_SECRET_ACCESS_KEY"},
	} {
		tc.env["MESHFLOW_LAKE"] = t.TempDir()
		if _, err := ConfigFromEnv(envOf(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want it to name %s", tc.env, err, tc.want)
		}
	}
}
