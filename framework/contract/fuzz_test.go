package contract_test

import (
	"testing"
	"time"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/mesh"
)

// FuzzParse reads arbitrary bytes as a stored contract, the way a publish reads the
// previous one back from its table: no panic, and a contract that parses compares
// with itself as unchanged and with a real one without a panic.
func FuzzParse(f *testing.F) {
	entries := domains.Mesh().Products()
	for _, e := range entries {
		b, err := contract.Export(e.Domain, e.Product).YAML()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, seed := range []string{
		``, `~`, `[]`, `apiVersion: [`, "schema:\n- properties:\n  - name: a\n  - name: a\n    required: true\n",
		"schema:\n- properties:\n  - name: s\n    quality:\n    - metric: invalidValues\n      arguments:\n        validValues: [1, {a: b}, null]\n",
		"schema:\n- properties:\n  - name: s\n    quality:\n    - metric: invalidValues\n      arguments:\n        validValues: x\n",
		"a: &a [*a, *a]\nschema: *a\n", "schema: !!binary aGVsbG8=\n", "slaProperties:\n- value: {<<: {x: 1}}\n",
		"\xef\xbb\xbfkind: DataContract\n", "schema:\n- properties: [{primaryKeyPosition: 99999999999999999999}]\n",
	} {
		f.Add([]byte(seed))
	}
	published := contract.Export(entries[0].Domain, entries[0].Product)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := contract.Parse(b)
		if err != nil {
			return
		}
		if same := contract.Compare(c, c); len(same) != 0 {
			t.Fatalf("a contract compared with itself changed: %v\n%s", same, b)
		}
		_ = contract.Compare(c, published)
		_ = contract.Compare(published, c)
	})
}

// FuzzExport declares a product with fuzzed docs, accepted values, checks and SLO,
// and, when the declaration validates, exports its contract: the YAML must parse
// back into a contract with no change from the one exported.
func FuzzExport(f *testing.F) {
	for _, s := range []struct {
		description, doc, value, sql, tag string
		hours                             int64
	}{
		{"Contacts. One row per contact.", "E-mail address, trimmed and lower-cased.", "customer", "SELECT * FROM model WHERE email NOT LIKE '%@%'", "crm", 26},
		{"", "", "", "", "", 0},
		{"a: b\n- c", "#not a comment", "yes", "SELECT 1;;", "null", 1},
		{"\"quoted\" and 'single'", "line1\nline2\r\n", "on", "SELECT * FROM model --", "~", 9223372036854775807 / int64(time.Hour)},
		{"\x00\x01", "\u2028", "0x10", "", "*a", -1},
		{"Tab\there", "key: value", "- item", "SELECT ${table}", "&anchor", 48},
	} {
		f.Add(s.description, s.doc, s.value, s.sql, s.tag, s.hours)
	}
	f.Fuzz(func(t *testing.T, description, doc, value, sql, tag string, hours int64) {
		p := mesh.Product{
			Name: "crm_contacts", Description: description, Version: "1.2.0", Tags: []string{tag},
			Inputs: []mesh.Input{mesh.Raw("hubspot", "contacts")}, Model: "SELECT 1",
			Schema: []mesh.Column{
				{Name: "contact_id", Type: mesh.String, Doc: doc, Required: true},
				{Name: "stage", Type: mesh.String, Doc: doc},
				{Name: "updated_at", Type: mesh.Timestamp, Doc: "Last change."},
			},
			PrimaryKey: []string{"contact_id"}, Classification: mesh.Restricted, AllowedGroups: []string{tag},
			Freshness: mesh.Freshness{Column: "updated_at", WarnAfter: time.Duration(hours) * time.Hour, FailAfter: time.Duration(hours) * time.Hour},
			Cadence:   "@daily",
			Checks:    []mesh.Check{mesh.AcceptedValues("stage", value, "lead"), mesh.SQL("custom_check", sql).Describe(doc), mesh.Fresh("updated_at", time.Duration(hours)*time.Hour)},
		}
		d := mesh.Domain{Name: "marketing", Owner: "marketing-analytics", Contact: doc, Products: []mesh.Product{p}}
		if d.Validate() != nil {
			return
		}
		c := contract.Export(d, p)
		b, err := c.YAML()
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		back, err := contract.Parse(b)
		if err != nil {
			t.Fatalf("the exported contract does not parse: %v\n%s", err, b)
		}
		if changes := contract.Compare(c, back); len(changes) != 0 {
			t.Fatalf("the contract changed through YAML: %v\n%s", changes, b)
		}
	})
}
