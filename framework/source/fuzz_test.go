package source

import (
	"strings"
	"testing"
)

// FuzzExtractor feeds arbitrary records to the Extractor and to the decoding into a
// map it replaced: they must agree on every value and on whether the record is
// refused, and neither may panic.
func FuzzExtractor(f *testing.F) {
	for _, rec := range agreementRecords {
		f.Add([]byte(rec))
	}
	x := NewExtractor(agreementFields)
	f.Fuzz(func(t *testing.T, rec []byte) {
		checkAgreement(t, x, rec)
	})
}

// FuzzScrubSecrets: whatever the text, a secret of letters and digits never survives
// scrubbing, nor does its URL or base64 form.
func FuzzScrubSecrets(f *testing.F) {
	f.Add("error: key=abcdefgh12 in https://x/?k=abcdefgh12", "abcdefgh12")
	f.Add("YWJjZGVmZ2gxMg== and abcabcdefgh12", "abcdefgh12")
	f.Fuzz(func(t *testing.T, text, sec string) {
		if len(sec) < 8 || strings.Trim(sec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return
		}
		if out := ScrubSecrets(text, sec); strings.Contains(out, sec) {
			t.Fatalf("%q scrubbed of %q is %q", text, sec, out)
		}
	})
}
