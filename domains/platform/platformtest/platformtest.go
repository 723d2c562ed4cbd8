//go:build unix

// Package platformtest runs domains reading the platform's database in process
// (framework/flow/flowtest) against its sandbox — a seeded throwaway PostgreSQL
// cluster — and reads both sides as sorted rows of text: a port, and the database's
// own answer to a query, the ground truth. The platform domain's tests and those of
// the domains built on its ports (communications, …) share it.
package platformtest

import (
	"context"
	"database/sql"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meshflow/meshflow/dev/sandbox/platformdb"
	"github.com/meshflow/meshflow/framework/flow/flowtest"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Clock is the sandbox's now: the seed's times are before it.
var Clock = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// Mesh is the domains (RunProduct in Temporal's test environment, each run's
// landings its own) reading the sandbox's seeded cluster through conn.
type Mesh struct {
	*flowtest.Mesh
	t  *testing.T
	DB *platformdb.DB
}

// Start starts the sandbox of conn (the platform_db connector), seeded on three
// companies, and the domains reading it. It skips under -short.
func Start(t *testing.T, conn source.Connector, domains ...mesh.Domain) *Mesh {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (dev/pgcluster)")
	}
	sb, err := conn.Sandbox(source.SandboxOptions{Seed: 5, Now: func() time.Time { return Clock },
		Companies: []source.SandboxCompany{{Name: "Acme", Domain: "ACME.example"}, {Name: "Globex", Domain: "globex.example"}, {Name: "Initech", Domain: "www.initech.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.(io.Closer).Close(); err != nil {
			t.Error(err)
		}
	})
	vals := sb.Values("")
	if msg := vals[platformdb.StartError]; msg != "" {
		t.Fatal(msg)
	}
	db, _ := sb.(*platformdb.Sandbox).DB()
	src, err := conn.Open(vals)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.(interface{ Close() }).Close() })
	return &Mesh{Mesh: flowtest.New(t, domains, map[string]source.Source{conn.Name: src}), t: t, DB: db}
}

// RunPassing runs domain.product and fails the test unless its checks pass.
func (m *Mesh) RunPassing(when, domain, product string) {
	m.t.Helper()
	if res := m.Run(domain, product); res.Quality != "pass" {
		m.t.Fatalf("%s %s.%s: quality %s (%v)", when, domain, product, res.Quality, res.Warnings)
	}
}

// Port reads a published port as sorted rows of text: columns (SQL over the port)
// joined by '|'.
func (m *Mesh) Port(domain, product, columns string) []string {
	m.t.Helper()
	rs := m.Query(domain, product+"_v1", "SELECT concat_ws('|', "+columns+") FROM port")
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s sql.NullString
		if err := rs.Scan(&s); err != nil {
			m.t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rs.Err(); err != nil {
		m.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Truth is the database's answer to query (one text column), as sorted rows.
func (m *Mesh) Truth(query string) []string {
	m.t.Helper()
	conn, err := pgx.Connect(context.Background(), m.DB.AdminURI())
	if err != nil {
		m.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), query)
	if err != nil {
		m.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		m.t.Fatalf("%v\n%s", err, query)
	}
	slices.Sort(out)
	return out
}

// Check is a port that must equal the database: Columns of the port against Truth,
// a query on the live database.
type Check struct{ Domain, Product, Columns, Truth string }

// Same is the check that domain.product's columns equal truth's rows.
func Same(domain, product, columns, truth string) Check {
	return Check{Domain: domain, Product: product, Columns: columns, Truth: truth}
}

// Compare runs each check's product and compares its port with the database.
func (m *Mesh) Compare(when string, checks []Check) {
	m.t.Helper()
	for _, c := range checks {
		m.RunPassing(when, c.Domain, c.Product)
		got, want := m.Port(c.Domain, c.Product, c.Columns), m.Truth(c.Truth)
		if !slices.Equal(got, want) {
			m.t.Errorf("%s %s.%s: the port has %d rows, the database %d:\n got %v\nwant %v", when, c.Domain, c.Product, len(got), len(want), Head(got), Head(want))
		}
	}
}

// Head is the first rows, for a message.
func Head(rows []string) []string { return rows[:min(len(rows), 8)] }
