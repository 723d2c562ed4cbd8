package lake

import "testing"

func TestNormalizeBucketPathIsAPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"s3://mesh/lake":                      "s3://mesh?prefix=lake%2F",
		"s3://mesh/lake/?endpoint=http://h:1": "s3://mesh?endpoint=http%3A%2F%2Fh%3A1&prefix=lake%2F",
		"s3://mesh/team?prefix=lake/":         "s3://mesh?prefix=team%2Flake%2F",
		"s3://mesh?region=eu-west-1":          "s3://mesh?region=eu-west-1",
		"gs://mesh/a/b":                       "gs://mesh?prefix=a%2Fb%2F",
		"mem://":                              "mem://",
	} {
		got, root, err := Normalize(in)
		if err != nil || got != want || root != "" {
			t.Errorf("Normalize(%q) = %q, %q, %v; want %q", in, got, root, err, want)
		}
	}
}
