//go:build unix

package postgres

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

var declaredOrders = Declared{Name: "shop_db", Title: "the shop's database", Prefix: "SHOP_DB", Tables: []Table{
	{Name: "orders", PrimaryKey: []string{"id"}, Fields: []source.Field{
		{Name: "id", Type: source.Int64, Doc: "The order's id."},
		{Name: "total", Type: source.String, Doc: "Exact amount."},
		{Name: "placed_at", Type: source.Timestamp, Doc: "When."},
	}},
}}

// A declared database's streams, variables and source name are known without a
// database: the declared fields (with their docs), the key, and the change data
// capture's cursor and tombstones; its variables are its own.
func TestDeclaredConnectorWithoutADatabase(t *testing.T) {
	if err := declaredOrders.Validate(); err != nil {
		t.Fatal(err)
	}
	c := declaredOrders.Connector()
	if len(c.Streams) != 1 {
		t.Fatalf("streams %v", c.Streams)
	}
	sp := c.Streams[0]
	if sp.Name != "orders" || sp.CursorField != FieldLSN || sp.Deleted != FieldDeleted || len(sp.Fields) != 5 || sp.Fields[1].Doc != "Exact amount." || strings.Join(sp.PrimaryKey, ",") != "id" {
		t.Fatalf("spec %+v", sp)
	}
	var names []string
	for _, v := range c.Vars {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); got != "SHOP_DB_HOST SHOP_DB_PORT SHOP_DB_DATABASE SHOP_DB_USER SHOP_DB_PASSWORD SHOP_DB_SSLMODE SHOP_DB_SSLROOTCERT SHOP_DB_PUBLICATION SHOP_DB_SLOT_PREFIX" {
		t.Fatalf("variables %s", got)
	}
	_, err := c.Open(source.Values{"SHOP_DB_HOST": "db.example", "SHOP_DB_USER": "reader"})
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "SHOP_DB_DATABASE is not set") {
		t.Fatalf("open without a database: %v; want the error naming SHOP_DB_DATABASE", err)
	}
	if err := (Declared{Name: "x", Prefix: "X", Tables: []Table{{Name: "t", PrimaryKey: []string{"id"}, Fields: []source.Field{{Name: "n", Type: source.Int64}}}}}).Validate(); err == nil || !strings.Contains(err.Error(), "id is its key") {
		t.Fatalf("a key that is not declared: %v", err)
	}
}

// The live table is checked against the declaration when a landing starts: a
// declared column missing or of another type fails, naming the table and column; a
// column beyond the declaration lands.
func TestDeclaredTableDrift(t *testing.T) {
	d := newDB(t, 100)
	d.table(t, "orders", "id bigint PRIMARY KEY, total numeric(10,2), placed_at timestamptz, note text")
	d.exec(t, "INSERT INTO orders VALUES (1, 9.50, now(), 'gift')")
	open := func() *Source {
		cfg := declaredOrders.config()
		cfg.Host, cfg.Port, cfg.Database, cfg.User, cfg.Password, cfg.SSLMode, cfg.SlotPrefix = d.cfg.Host, d.cfg.Port, d.cfg.Database, d.cfg.User, d.cfg.Password, "disable", d.cfg.SlotPrefix
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	src := open()
	if src.Name() != "shop_db" {
		t.Errorf("name %q", src.Name())
	}
	sp, err := src.Streams()[0].(*Stream).Describe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Fields) != 6 || sp.Fields[0].Doc != "The order's id." {
		t.Fatalf("described %+v: want the declared columns with their docs, the extra note, _lsn and _deleted", sp.Fields)
	}

	d.exec(t, "ALTER TABLE orders ALTER COLUMN placed_at TYPE date")
	_, err = open().Streams()[0].(*Stream).Describe(t.Context(), nil)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "column placed_at of table public.orders is date") || !strings.Contains(err.Error(), "declares timestamp") {
		t.Fatalf("a retyped column: %v; want an invalid error naming the table, the column and both types", err)
	}
	d.exec(t, "ALTER TABLE orders DROP COLUMN placed_at")
	_, err = open().Streams()[0].(*Stream).Describe(t.Context(), nil)
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "table public.orders has no column placed_at") {
		t.Fatalf("a dropped column: %v; want an invalid error naming the table and column", err)
	}
}
