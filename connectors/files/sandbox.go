package files

import (
	"bytes"
	"encoding/csv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/source"
)

// Seed drops a sandbox's first files into its bucket, as a team would, and returns
// what changes about n of them for the demo's second run (a new month's export, a
// corrected file dropped again) and says what it did; nil when nothing does.
type Seed func(o source.SandboxOptions, b *bucket.API) (changes func(n int) []string, err error)

// Sandbox serves the seeded files as a bucket of dev/sandbox/bucket's S3 imitation,
// under /<source>, and points the source's URL variable at it (endpoint=,
// use_path_style, anonymous): the files travel over real HTTP, as from a bucket, so
// the demo, the tests and docker compose read them the same way.
func (s *Spec) Sandbox(seed Seed) func(source.SandboxOptions) (source.Sandbox, error) {
	return func(o source.SandboxOptions) (source.Sandbox, error) {
		b := bucket.New(BucketName(s.name), o.Now, o.Middleware(bucket.SlowDown))
		im := &source.Imitation{API: b, Mount: "/" + s.name,
			Point: func(baseURL string) source.Values { return source.Values{s.urlVar: SandboxURL(b.Name(), baseURL)} }}
		if seed != nil {
			changes, err := seed(o, b)
			if err != nil {
				return nil, err
			}
			im.Changes = changes
		}
		return im, nil
	}
}

// BucketName is the sandbox bucket of a source: its name as S3 spells buckets.
func BucketName(source string) string { return strings.ReplaceAll(source, "_", "-") + "-drops" }

// SandboxURL is the bucket URL that reads bucket name of the S3 imitation served at
// baseURL. The endpoint stays unescaped in it (gocloud reads it so), so the URL
// names the sandbox's address as it is written.
func SandboxURL(name, baseURL string) string {
	return "s3://" + name + "?endpoint=" + baseURL + "&use_path_style=true&region=us-east-1&anonymous=true"
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
