package host

import (
	"net/url"
	"strings"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/lake"
	"github.com/meshflow/meshflow/framework/secret"
)

// S3Config says how the lake (gocloud's s3blob) and the warehouse (iceberg-go's S3 IO)
// reach S3 or an S3-compatible server. Both get the same endpoint and credentials, in
// the form each library takes: the lake as URL parameters and static credentials, the
// warehouse as catalog IO properties.
type S3Config struct {
	// Endpoint is an S3-compatible server, e.g. http://127.0.0.1:7070 (MESHFLOW_S3_ENDPOINT)
	// [AWS]. With an endpoint, buckets are addressed by path (http://host/bucket/key),
	// which such servers expect; AWS itself is addressed by virtual host.
	Endpoint string
	// Region is AWS_REGION [the AWS SDK's default; us-east-1 with an endpoint, which
	// S3-compatible servers accept and the SDK needs to sign].
	Region string
	// AccessKeyID and SecretAccessKey are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
	// or the files named by AWS_ACCESS_KEY_ID_FILE and AWS_SECRET_ACCESS_KEY_FILE.
	// Unset, both libraries use the AWS SDK's default chain (shared config, instance
	// or pod role).
	AccessKeyID     string
	SecretAccessKey string
}

func readS3(getenv func(string) string) (S3Config, error) {
	c := S3Config{Endpoint: strings.TrimSuffix(getenv("MESHFLOW_S3_ENDPOINT"), "/"), Region: getenv("AWS_REGION")}
	var err error
	if c.AccessKeyID, err = readSecret(getenv, "AWS_ACCESS_KEY_ID"); err != nil {
		return S3Config{}, err
	}
	if c.SecretAccessKey, err = readSecret(getenv, "AWS_SECRET_ACCESS_KEY"); err != nil {
		return S3Config{}, err
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return S3Config{}, errs.Errorf(errs.Invalid, "configure", "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE variants), or neither")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return S3Config{}, errs.Errorf(errs.Invalid, "configure", "MESHFLOW_S3_ENDPOINT %q: want http(s)://host:port", c.Endpoint)
		}
		if c.Region == "" {
			c.Region = "us-east-1"
		}
	}
	return c, nil
}

// lakeURL adds the endpoint, path-style addressing and region to an s3:// lake URL,
// leaving parameters the URL already sets alone.
func (c S3Config) lakeURL(lakeURL string) (string, error) {
	if !strings.HasPrefix(lakeURL, "s3://") || (c.Endpoint == "" && c.Region == "") {
		return lakeURL, nil
	}
	u, err := url.Parse(lakeURL)
	if err != nil {
		return "", errs.Errorf(errs.Invalid, "configure", "MESHFLOW_LAKE %q: %v", lakeURL, err)
	}
	q := u.Query()
	set := func(k, v string) {
		if v != "" && q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	set("endpoint", c.Endpoint)
	if c.Endpoint != "" {
		set("use_path_style", "true")
	}
	set("region", c.Region)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// IcebergProperties are the iceberg-go IO properties for an s3:// warehouse.
func (c S3Config) IcebergProperties() map[string]string {
	props := map[string]string{}
	if c.Endpoint != "" {
		props[icebergio.S3EndpointURL] = c.Endpoint // iceberg-go then addresses buckets by path
	}
	if c.Region != "" {
		props[icebergio.S3Region] = c.Region
	}
	if c.AccessKeyID != "" {
		props[icebergio.S3AccessKeyID] = c.AccessKeyID
		props[icebergio.S3SecretAccessKey] = c.SecretAccessKey
	}
	return props
}

// LakeOptions are the lake's static credentials, if configured.
func (c S3Config) LakeOptions() *lake.Options {
	if c.AccessKeyID == "" {
		return nil
	}
	return &lake.Options{S3: &lake.S3Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret.Value(c.SecretAccessKey)}}
}
