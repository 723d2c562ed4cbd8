package files

import (
	"bytes"
	"encoding/csv"
	"net/url"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/source"
)

// Drops are a sandbox's files by key, as a team would drop them.
type Drops map[string][]byte

// Seed writes the sandbox's first files; changes, when set, drops about n more (a
// new month's export, a corrected file dropped again) and says what it did, for the
// demo's second run.
type Seed struct {
	Files   func(o source.SandboxOptions) (Drops, error)
	Changes func(b *bucket.API, n int) []string
}

// Sandbox serves the seeded files as a bucket of dev/sandbox/bucket's S3 imitation,
// under /<source>, and points the source's URL variable at it (endpoint=,
// use_path_style, anonymous): the files travel over real HTTP, as from a bucket, so
// the demo, the tests and docker compose read them the same way.
func (s *Spec) Sandbox(seed Seed) func(source.SandboxOptions) (source.Sandbox, error) {
	return func(o source.SandboxOptions) (source.Sandbox, error) {
		b := bucket.New(BucketName(s.name), o.Now, o.Middleware(bucket.SlowDown))
		if seed.Files != nil {
			drops, err := seed.Files(o)
			if err != nil {
				return nil, err
			}
			for k, data := range drops {
				b.Put(k, data)
			}
		}
		im := &source.Imitation{API: b, Mount: "/" + s.name,
			Point: func(baseURL string) source.Values { return source.Values{s.urlVar: SandboxURL(b.Name(), baseURL)} }}
		if seed.Changes != nil {
			im.Changes = func(n int) []string { return seed.Changes(b, n) }
		}
		return im, nil
	}
}

// BucketName is the sandbox bucket of a source: its name as S3 spells buckets.
func BucketName(source string) string { return strings.ReplaceAll(source, "_", "-") + "-drops" }

// SandboxURL is the bucket URL that reads bucket name of the S3 imitation served at
// baseURL.
func SandboxURL(name, baseURL string) string {
	q := url.Values{}
	q.Set("endpoint", baseURL)
	q.Set("use_path_style", "true")
	q.Set("region", "us-east-1")
	q.Set("anonymous", "true")
	return "s3://" + name + "?" + q.Encode()
}

// CSVFile is rows as a CSV file (the first row the header), for seeds and tests.
func CSVFile(rows [][]string) []byte {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.WriteAll(rows) // a strings.Builder does not fail
	return []byte(b.String())
}

// XLSXFile is rows as an .xlsx workbook of one sheet (the first row the header), for
// seeds and tests; a time.Time cell is written as Excel writes a date, a serial
// number formatted as one.
func XLSXFile(sheet string, rows [][]any) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	date, err := f.NewStyle(&excelize.Style{NumFmt: 14}) // m/d/yy, Excel's short date
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		for j, v := range r {
			ref, err := excelize.CoordinatesToCellName(j+1, i+1)
			if err != nil {
				return nil, err
			}
			if err := f.SetCellValue(sheet, ref, v); err != nil {
				return nil, err
			}
			if _, ok := v.(time.Time); ok {
				if err := f.SetCellStyle(sheet, ref, ref, date); err != nil {
					return nil, err
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
