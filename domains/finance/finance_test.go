package finance

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/files/filestest"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

func TestDomainValidates(t *testing.T) {
	if err := (mesh.Mesh{Domains: []mesh.Domain{Domain()}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

var companies = []source.SandboxCompany{
	{Name: "Acme Corp", Domain: "acme.example"}, {Name: "Globex", Domain: "globex.example"},
	{Name: "Initech", Domain: "initech.example"}, {Name: "Umbrella", Domain: "umbrella.example"},
}

// TestProductsOverTheSandboxExports runs both products through RunProduct over the
// sandbox's exports: every booking and invoice of the good files is in the ports on
// its company's company_gid; the EMEA export with a renamed column lands nothing and
// the run says so, naming the file, the column and the header expected; once it is
// dropped again fixed, the next run lands it and the corrected month.
func TestProductsOverTheSandboxExports(t *testing.T) {
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	m := filestest.New(t, Domain(), FinanceFiles(), source.SandboxOptions{Seed: 3, Now: func() time.Time { return now }, Companies: companies})
	if keys := m.Bucket.Keys(); !slices.Equal(keys, []string{"bookings/2026-08.csv", "bookings/2026-09.csv", "bookings/2026-10-emea.csv", "bookings/2026-10.csv",
		"invoices/2026-08.xlsx", "invoices/2026-09.xlsx", "invoices/2026-10.xlsx"}) {
		t.Fatalf("the sandbox dropped %v", keys)
	}

	bookings := m.Run("bookings_monthly")
	refusal := `land finance_files.bookings: refused bookings/2026-10-emea.csv: column "Amount" is missing from the header; ` +
		`expected header: Booking ID, Booked on, Customer, Website, Plan, Amount, Currency, Term (months), Sales rep; it lands once it is dropped again, fixed`
	if bookings.Quality != "pass" || !slices.Equal(bookings.Warnings, []string{refusal}) {
		t.Fatalf("bookings_monthly: quality %s, warnings %q", bookings.Quality, bookings.Warnings)
	}
	gids := map[string]bool{}
	for _, c := range companies {
		gids[globalid.CompanyGID(c.Domain)] = true
	}
	count := func() (n int64, emea int64) {
		rows := m.Query("bookings_monthly_v1", `SELECT company_gid, bookings, source_files FROM port`)
		for rows.Next() {
			var gid, src string
			var b int64
			if err := rows.Scan(&gid, &b, &src); err != nil {
				t.Fatal(err)
			}
			if !gids[gid] {
				t.Fatalf("company_gid %s is none of the sandbox's companies", gid)
			}
			n += b
			if strings.Contains(src, "emea") {
				emea++
			}
		}
		return n, emea
	}
	total, emea := count()
	if want := int64(bookings.Landed["finance_files.bookings"]); total != want || emea != 0 {
		t.Fatalf("%d bookings in the port (%d groups from EMEA), %d landed", total, emea, want)
	}

	invoices := m.Run("invoices")
	if invoices.Quality != "pass" || invoices.Rows != int64(invoices.Landed["finance_files.invoices"]) || invoices.Rows != total || len(invoices.Warnings) != 0 {
		t.Fatalf("invoices: %+v (one invoice per booking: %d)", invoices, total)
	}
	rows := m.Query("invoices_v1", `SELECT count(*) FROM port WHERE source_file LIKE 'invoices/2026-__.xlsx' AND source_row >= 2 AND company_gid IS NOT NULL`)
	var traced int64
	for rows.Next() {
		rows.Scan(&traced)
	}
	if traced != invoices.Rows {
		t.Fatalf("%d of %d invoices name their file, row and company", traced, invoices.Rows)
	}

	what := m.Change(10)
	if len(what) != 1 || !strings.Contains(what[0], "bookings/2026-10-emea.csv fixed") {
		t.Fatalf("changes: %q", what)
	}
	again := m.Run("bookings_monthly")
	if len(again.Warnings) != 0 || again.Landed["finance_files.bookings"] == 0 {
		t.Fatalf("after the fix: %+v", again)
	}
	total2, emea2 := count()
	if emea2 == 0 || total2 <= total {
		t.Fatalf("after the fix: %d bookings (%d groups from EMEA), before %d", total2, emea2, total)
	}
}
