package main

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// contacts generates HubSpot-shaped contact records (the list endpoint's wire shape:
// id, properties with every requested property, nulls for unset ones, createdAt,
// updatedAt, archived, archivedAt), deterministically from a seed, so every
// measurement of a run reads the same bytes.
type contacts struct {
	rng *rand.Rand
	i   int
}

func newContacts() *contacts { return &contacts{rng: rand.New(rand.NewPCG(8, 2026))} }

var (
	firstNames = []string{"Anna", "Ben", "Chloé", "David", "Elif", "Farah", "Greta", "Hugo", "Ines", "Jonas", "Kenji", "Lena", "Mateo", "Nora", "Omar", "Priya"}
	lastNames  = []string{"Schmidt", "Okafor", "Martin", "Nakamura", "Rossi", "Kowalski", "Silva", "Dubois", "Jensen", "Haddad", "Novak", "García", "Müller", "Smith"}
	companies  = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent", "Wonka"}
	countries  = []string{"Germany", "United States", "France", "Japan", "Brazil", "India", "Nigeria", "Poland", "Denmark", "Canada"}
	stages     = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}
	epoch      = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
)

// next appends the next record (without a newline) to b.
func (c *contacts) next(b []byte) []byte {
	r := c.rng
	id := strconv.Itoa(1_000_001 + c.i)
	c.i++
	created := epoch.Add(time.Duration(r.Int64N(int64(700*24*time.Hour))) / time.Millisecond * time.Millisecond)
	modified := created.Add(time.Duration(r.Int64N(int64(30*24*time.Hour))) / time.Millisecond * time.Millisecond)
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	co := r.IntN(len(companies) * 40)
	company := companies[co%len(companies)] + " " + strconv.Itoa(co/len(companies))
	archived := r.IntN(100) == 0

	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","properties":{"associatedcompanyid":`...)
	hasCompany := r.IntN(100) >= 15
	if hasCompany {
		b = append(b, '"')
		b = strconv.AppendInt(b, 5_000_000_000+int64(co), 10)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"company":`...)
	b = quoteOrNull(b, company, hasCompany)
	b = append(b, `,"country":`...)
	b = quoteOrNull(b, countries[r.IntN(len(countries))], r.IntN(10) > 0)
	b = append(b, `,"createdate":"`...)
	b = created.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","email":"`...)
	b = append(b, lowerASCII(first)...)
	b = append(b, '.')
	b = append(b, lowerASCII(last)...)
	b = append(b, id...)
	b = append(b, "@example.test"...)
	b = append(b, `","firstname":"`...)
	b = append(b, first...)
	b = append(b, `","hs_object_id":"`...)
	b = append(b, id...)
	b = append(b, `","lastmodifieddate":"`...)
	b = modified.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","lastname":"`...)
	b = append(b, last...)
	b = append(b, `","lifecyclestage":"`...)
	b = append(b, stages[r.IntN(len(stages))]...)
	b = append(b, `","phone":`...)
	if r.IntN(10) < 7 {
		b = append(b, `"+49 30 `...)
		b = strconv.AppendInt(b, 1_000_000+r.Int64N(9_000_000), 10)
		b = append(b, '"')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `},"createdAt":"`...)
	b = created.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","updatedAt":"`...)
	b = modified.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","archived":`...)
	b = strconv.AppendBool(b, archived)
	if archived {
		b = append(b, `,"archivedAt":"`...)
		b = modified.AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, '"')
	}
	return append(b, '}')
}

func quoteOrNull(b []byte, s string, ok bool) []byte {
	if !ok {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// lowerASCII lower-cases ASCII letters only: names with accents stay as written,
// as they do in real CRM exports.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// writeContacts writes n records, one per line, to path and returns the file's size.
func writeContacts(path string, n int) (int64, error) {
	const op = "generate contacts"
	f, err := os.Create(path)
	if err != nil {
		return 0, errs.Errorf(errs.Invalid, op, "%v (is --workdir a writable directory?)", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	g := newContacts()
	var line []byte
	for range n {
		line = append(g.next(line[:0]), '\n')
		if _, err := w.Write(line); err != nil {
			f.Close()
			return 0, errs.E(errs.Internal, op, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, errs.E(errs.Internal, op, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, errs.E(errs.Internal, op, err)
	}
	return st.Size(), f.Close()
}
