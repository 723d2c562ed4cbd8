package source

import "testing"

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
