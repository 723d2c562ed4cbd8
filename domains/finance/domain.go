// Package finance is the finance domain: bookings and invoices as the finance team
// exports them every month — CSV from billing, Excel workbooks from accounting —
// dropped into a bucket (a files source the domain keeps, sources/finance_files.yaml).
// The finance-analytics team owns everything in this folder.
package finance

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Name is the domain's name; its workers poll the task queue "meshflow.finance".
const Name = "finance"

//go:embed models/bookings_monthly.sql
var bookingsMonthlySQL string

//go:embed models/invoices.sql
var invoicesSQL string

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the finance domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "finance-analytics",
		Contact:     "#finance-data",
		Description: "Bookings and invoices from the finance team's monthly exports, per company on company_gid.",
		Products:    []mesh.Product{bookingsMonthly(), invoices()},
		Sources:     []source.Connector{FinanceFiles()},
	}
}

// Finance closes a month in the first days of the next: its exports arrive then.
var monthly = mesh.Freshness{WarnAfter: 35 * 24 * time.Hour, FailAfter: 45 * 24 * time.Hour}

func bookingsMonthly() mesh.Product {
	return mesh.Product{
		Name: "bookings_monthly",
		Description: "Bookings per calendar month, company and currency from billing's monthly CSV exports: how many, their total " +
			"contract value and its annualized value, with company_gid. A month's export dropped again with corrections replaces its " +
			"bookings; bookings without a website are left out (they match no company).",
		UseCases: []string{
			"Compare bookings per company with its product usage and pipeline (metrics, product.account_usage_daily) on company_gid.",
			"Track new annualized contract value month over month, per currency.",
			"Reconcile CRM closed-won deals (marketing.crm_deals) with what billing booked.",
		},
		Tags:    []string{"finance", "bookings", "revenue", "accounts"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("finance_files", "bookings")},
		Model:   bookingsMonthlySQL,
		Schema: []mesh.Column{
			{Name: "month", Type: mesh.Date, Required: true, Doc: "First day of the calendar month the bookings were signed in."},
			{Name: "company_gid", Type: mesh.String, Required: true, Doc: "Global company id of the customer's website (framework/globalid's company_gid), as in marketing.crm_companies.", Tags: []string{"company-gid"}},
			{Name: "web_domain", Type: mesh.String, Required: true, Doc: "The customer's website domain, normalised (framework/globalid's web_domain)."},
			{Name: "customer", Type: mesh.String, Doc: "The customer's name as billing spelled it on its latest booking of the month."},
			{Name: "currency", Type: mesh.String, Required: true, Doc: "ISO 4217 code of the amounts (USD, EUR, GBP); amounts are never converted."},
			{Name: "bookings", Type: mesh.Int64, Required: true, Doc: "Bookings signed that month."},
			{Name: "booked_amount", Type: mesh.Float64, Required: true, Doc: "Their total contract value, in currency."},
			{Name: "annualized_amount", Type: mesh.Float64, Required: true, Doc: "Their value per year (amount × 12 ÷ term in months), in currency."},
			{Name: "enterprise_bookings", Type: mesh.Int64, Required: true, Doc: "How many of them are on the enterprise plan."},
			{Name: "source_files", Type: mesh.String, Doc: "The exports the bookings were read from, comma-separated."},
		},
		PrimaryKey:     []string{"month", "company_gid", "currency"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("currency", "USD", "EUR", "GBP"),
			mesh.SQL("company_gid_from_shared_macro", "SELECT * FROM model WHERE company_gid IS DISTINCT FROM company_gid(web_domain)").
				Describe("The global id is the shared macro's, so the rows join every other domain's."),
			mesh.SQL("amounts_positive", "SELECT * FROM model WHERE booked_amount <= 0 OR annualized_amount <= 0"),
		},
		Freshness: monthly,
		Cadence:   "0 7 * * *",
	}
}

func invoices() mesh.Product {
	return mesh.Product{
		Name: "invoices",
		Description: "Every invoice from accounting's monthly Excel workbooks: amount, currency, status, when it was issued, due and paid, " +
			"the customer's company_gid, and the file and row it was read from. A workbook dropped again updates its invoices.",
		UseCases: []string{
			"Find customers with open invoices past due before a renewal call, joined to CRM companies on company_gid.",
			"Measure days to pay per customer and plan collections.",
			"Trace a figure back to the exported file and row it came from (source_file, source_row).",
		},
		Tags:    []string{"finance", "invoices", "receivables", "accounts"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("finance_files", "invoices")},
		Model:   invoicesSQL,
		Schema: []mesh.Column{
			{Name: "invoice_number", Type: mesh.String, Required: true, Doc: "The accounting system's invoice number."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the customer's website (framework/globalid's company_gid); null without a website.", Tags: []string{"company-gid"}},
			{Name: "web_domain", Type: mesh.String, Doc: "The customer's website domain, normalised."},
			{Name: "customer", Type: mesh.String, Doc: "The customer's name as accounting spells it."},
			{Name: "issued_on", Type: mesh.Date, Required: true, Doc: "The day it was issued."},
			{Name: "due_on", Type: mesh.Date, Doc: "The day it is due."},
			{Name: "amount", Type: mesh.Float64, Required: true, Doc: "The amount invoiced, in currency."},
			{Name: "currency", Type: mesh.String, Required: true, Doc: "ISO 4217 code of the amount."},
			{Name: "status", Type: mesh.String, Required: true, Doc: "open, paid or void, as of the latest export holding the invoice."},
			{Name: "paid_on", Type: mesh.Date, Doc: "The day it was paid; null while it is not."},
			{Name: "days_to_pay", Type: mesh.Int64, Doc: "Days from issue to payment; null while unpaid."},
			{Name: "source_file", Type: mesh.String, Required: true, Doc: "The workbook it was read from, under the finance bucket."},
			{Name: "source_row", Type: mesh.Int64, Required: true, Doc: "Its row in that workbook's sheet, as Excel numbers rows."},
		},
		PrimaryKey:     []string{"invoice_number"},
		Classification: mesh.Restricted,
		AllowedGroups:  []string{"finance"},
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("status", "open", "paid", "void"),
			mesh.SQL("paid_has_date", "SELECT * FROM model WHERE (status = 'paid') <> (paid_on IS NOT NULL)"),
			mesh.SQL("due_after_issue", "SELECT * FROM model WHERE due_on < issued_on"),
			mesh.SQL("has_company", "SELECT * FROM model WHERE company_gid IS NULL").AsWarn().
				Describe("Invoices without a website match no company: fix the customer's record in accounting."),
		},
		Freshness: monthly,
		Cadence:   "0 7 * * *",
	}
}
