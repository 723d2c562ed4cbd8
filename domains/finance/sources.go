package finance

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/connectors/files"
	"github.com/meshflow/meshflow/dev/sandbox/bucket"
	"github.com/meshflow/meshflow/framework/source"
)

//go:embed sources/finance_files.yaml
var financeFilesYAML []byte

// financeFiles is the parsed spec, validated when the package loads.
var financeFiles = files.Must("domains/finance/sources/finance_files.yaml", financeFilesYAML)

// FinanceFiles is the finance_files source, which the finance domain alone reads
// (mesh.Domain.Sources): the team's monthly exports dropped into a bucket, with a
// sandbox that drops three months of them (one refused for its header).
func FinanceFiles() source.Connector {
	c := financeFiles.Connector()
	c.Sandbox = financeFiles.Sandbox(seedExports)
	return c
}

// bookingsHeader and invoicesHeader are the exports' headers, as the spec declares them.
var (
	bookingsHeader = []string{"Booking ID", "Booked on", "Customer", "Website", "Plan", "Amount", "Currency", "Term (months)", "Sales rep"}
	invoicesHeader = []any{"Invoice No.", "Issued", "Due", "Customer", "Website", "Amount", "Currency", "Status", "Paid on"}
)

// seedExports drops the three months before the sandbox's clock: each month's
// bookings as CSV and its invoices as a workbook, for the sandbox's companies (so
// they join the mesh on company_gid), and an EMEA bookings export whose Amount column
// is headed "Amount (EUR)", which the source refuses. The demo's second run drops
// the EMEA export fixed and the last month again with corrected amounts.
func seedExports(o source.SandboxOptions, b *bucket.API) (func(int) []string, error) {
	companies := o.Companies
	if len(companies) == 0 {
		companies = fallbackCompanies
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 16))
	first := time.Date(now().Year(), now().Month(), 1, 0, 0, 0, 0, time.UTC)
	var last [][]string
	var lastKey string
	for m := 3; m >= 1; m-- {
		month := first.AddDate(0, -m, 0)
		bookings, invoices := monthOfExports(r, companies, month)
		key := "bookings/" + month.Format("2006-01") + ".csv"
		b.Put(key, files.CSVFile(bookings))
		x, err := files.XLSXFile("Invoices", invoices)
		if err != nil {
			return nil, err
		}
		b.Put("invoices/"+month.Format("2006-01")+".xlsx", x)
		last, lastKey = bookings, key
	}
	month := first.AddDate(0, -1, 0)
	emeaKey := "bookings/" + month.Format("2006-01") + "-emea.csv"
	emea, _ := monthOfExports(r, companies[len(companies)/2:], month)
	for i := 1; i < len(emea); i++ {
		emea[i][0] = "EMEA-" + emea[i][0]
	}
	emea[0] = append([]string(nil), emea[0]...)
	emea[0][5] = "Amount (EUR)" // exported from the EMEA entity's template
	b.Put(emeaKey, files.CSVFile(emea))

	changed := false
	return func(n int) []string {
		if changed || n <= 0 {
			return nil
		}
		changed = true
		emea[0] = bookingsHeader
		b.Put(emeaKey, files.CSVFile(emea))
		fixes := min(max(n/5, 1), len(last)-1)
		for i := 1; i <= fixes; i++ {
			amount, _ := strconv.ParseFloat(last[i][5], 64)
			last[i][5] = strconv.FormatFloat(amount*1.1, 'f', 2, 64)
		}
		b.Put(lastKey, files.CSVFile(last))
		return []string{fmt.Sprintf("dropped %s fixed and %s again with %d corrected amounts", emeaKey, lastKey, fixes)}
	}, nil
}

// monthOfExports is a month's bookings (CSV rows) and invoices (sheet rows), headers first.
func monthOfExports(r *rand.Rand, companies []source.SandboxCompany, month time.Time) ([][]string, [][]any) {
	bookings := [][]string{bookingsHeader}
	invoices := [][]any{invoicesHeader}
	plans := []string{"starter", "growth", "enterprise"}
	prices := map[string]float64{"starter": 6000, "growth": 24000, "enterprise": 90000}
	currencies := []string{"USD", "USD", "USD", "EUR", "GBP"}
	reps := []string{"Dana Whitfield", "Omar Haddad", "Mei Lin", "Lucas Ferreira"}
	days := month.AddDate(0, 1, -1).Day()
	n := 20 + r.IntN(15)
	for i := range n {
		c := companies[r.IntN(len(companies))]
		plan := plans[r.IntN(len(plans))]
		term := []int{12, 12, 24, 36}[r.IntN(4)]
		amount := prices[plan] * float64(term) / 12 * (0.8 + 0.4*r.Float64())
		currency := currencies[r.IntN(len(currencies))]
		booked := month.AddDate(0, 0, r.IntN(days))
		id := fmt.Sprintf("BK-%s-%03d", month.Format("200601"), i+1)
		bookings = append(bookings, []string{id, booked.Format(time.DateOnly), c.Name, website(r, c.Domain), plan,
			strconv.FormatFloat(amount, 'f', 2, 64), currency, strconv.Itoa(term), reps[r.IntN(len(reps))]})

		issued := booked.AddDate(0, 0, 1+r.IntN(5))
		status, paid := "open", any("")
		switch x := r.IntN(10); {
		case x < 6:
			status, paid = "paid", issued.AddDate(0, 0, 5+r.IntN(40))
		case x == 9:
			status = "void"
		}
		invoices = append(invoices, []any{fmt.Sprintf("INV-%s-%04d", month.Format("200601"), i+1), issued, issued.AddDate(0, 0, 30),
			c.Name, website(r, c.Domain), amount * 12 / float64(term), currency, status, paid})
	}
	return bookings, invoices
}

// website spells a domain the ways people type it in a spreadsheet.
func website(r *rand.Rand, domain string) string {
	switch r.IntN(4) {
	case 0:
		return "https://www." + domain + "/"
	case 1:
		return strings.ToUpper(domain[:1]) + domain[1:]
	case 2:
		return "http://" + domain
	}
	return domain
}

// fallbackCompanies are the customers of a sandbox started without HubSpot's.
var fallbackCompanies = []source.SandboxCompany{
	{Name: "Acme Corp", Domain: "acme.example"}, {Name: "Globex", Domain: "globex.example"},
	{Name: "Initech", Domain: "initech.example"}, {Name: "Umbrella", Domain: "umbrella.example"},
	{Name: "Hooli", Domain: "hooli.example"}, {Name: "Vandelay Industries", Domain: "vandelay.example"},
}
