package lake

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/meshflow/meshflow/framework/secret"
)

// S3Credentials are a static S3 access key, for a server (or an account) that is not
// reached through an AWS role.
type S3Credentials struct {
	AccessKeyID     string
	SecretAccessKey secret.Value
}

// staticS3 opens s3:// URLs the way gocloud's s3blob does, with fixed credentials:
// s3blob builds its client from the AWS SDK's default chain, which only the process
// environment or shared files can feed, and Meshflow reads its configuration in one place.
type staticS3 struct{ creds S3Credentials }

// openS3 opens an s3:// bucket URL (query parameters as s3blob takes them, prefix
// included) with static credentials.
func openS3(ctx context.Context, bucketURL string, creds S3Credentials) (*blob.Bucket, error) {
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, staticS3{creds})
	return mux.OpenBucket(ctx, bucketURL) // the mux applies prefix=
}

func (o staticS3) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	pathStyle := false
	for _, key := range []string{"use_path_style", "s3ForcePathStyle"} {
		if v := q.Get(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("invalid value for %q: %w", key, err)
			}
			pathStyle = b
			q.Del(key)
		}
	}
	// endpoint, region, hostname_immutable and the checksum settings, as s3blob reads them.
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Host, err)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider(o.creds.AccessKeyID, o.creds.SecretAccessKey.Reveal(), "")
	client := s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = pathStyle })
	return s3blob.OpenBucket(ctx, client, u.Host, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
}
