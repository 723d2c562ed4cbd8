package pendo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
)

// Fields injected into every event row: its natural key, and the day bucket's
// date in the subscription's time zone.
const (
	KeyField  = "_meshflow_key"
	DateField = "_meshflow_date"
)

// keyParts are the fields that identify an aggregated event row: Pendo groups
// events by visitor, account, server and remote address per time bucket and
// object. Counters (numEvents, numMinutes) and descriptive fields (userAgent) are
// left out, so a row that gains late events keeps its key.
var keyParts = []string{"visitorId", "accountId", "server", "remoteIp", "day", "hour", "pageId", "featureId"}

// EventKey is the natural key of a page or feature event row as Pendo sends it:
// a hash of visitorId, accountId, server, remoteIp, the bucket (day or hour) and
// the object id (pageId or featureId). It depends on those values alone — not on
// field order, whitespace or the counters — so every read of a row, before and
// after late events, yields the same key. 32 hex digits.
func EventKey(row json.RawMessage) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return "", fmt.Errorf("event row is not a JSON object: %w", err)
	}
	if len(m["visitorId"]) == 0 || (len(m["day"]) == 0 && len(m["hour"]) == 0) || (len(m["pageId"]) == 0 && len(m["featureId"]) == 0) {
		return "", fmt.Errorf("event row lacks visitorId, a day or hour bucket, or a pageId or featureId")
	}
	h := sha256.New()
	for _, name := range keyParts {
		v, ok := m[name]
		if !ok {
			continue // absent: only its absence counts, through the other names' positions
		}
		text, err := scalarText(v)
		if err != nil {
			return "", fmt.Errorf("event row field %s: %w", name, err)
		}
		// Length-prefixed name and value: no choice of values can collide with another.
		fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(text), text)
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// scalarText is a JSON scalar as text: a string unquoted, a number as written
// (normalised so 1709269200000 and 1.7092692e12 agree), null as "".
func scalarText(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", nil
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case v[0] == '{' || v[0] == '[':
		return "", fmt.Errorf("%.40s is not a scalar", v)
	}
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return string(v), nil // true/false
	}
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// inject returns row with KeyField set to key and DateField to date as its first
// fields, the rest of the row byte for byte as Pendo sent it.
func inject(row json.RawMessage, key, date string) (json.RawMessage, error) {
	b := bytes.TrimSpace(row)
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("event row is not a JSON object")
	}
	out := make([]byte, 0, len(b)+len(KeyField)+len(key)+len(DateField)+len(date)+16)
	out = append(out, `{"`+KeyField+`":"`+key+`","`+DateField+`":"`+date+`"`...)
	if rest := bytes.TrimSpace(b[1:]); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, b[1:]...), nil
}

// digest sums up a day's rows independently of their order: the row count and
// the sum of a hash of each row's canonical form (keys sorted, numbers as
// written). Equal digests mean the day's rows did not change.
type digest struct {
	n   int
	sum uint64
}

func (d *digest) add(row json.RawMessage) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(row))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	canon, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return err
	}
	h := fnv.New64a()
	h.Write(canon)
	d.n++
	d.sum += h.Sum64()
	return nil
}

func (d digest) String() string { return strconv.Itoa(d.n) + ":" + strconv.FormatUint(d.sum, 16) }
