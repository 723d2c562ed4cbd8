// Package product is the product domain: how customer accounts use the product, from
// Pendo. The product-analytics team owns it.
package product

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
)

// Name is the domain's name; its workers poll the task queue "meshflow.product".
const Name = "product"

//go:embed models/account_usage_daily.sql
var usageSQL string

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the product domain and its products.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "product-analytics",
		Contact:     "#product-analytics",
		Description: "How customers use the product: page and feature usage per account.",
		Products:    []mesh.Product{accountUsage()},
	}
}

func accountUsage() mesh.Product {
	return mesh.Product{
		Name: "account_usage_daily",
		Description: "Daily page views and feature clicks per customer account, with events, minutes and distinct visitors. " +
			"Days follow the Pendo subscription's time zone.",
		UseCases: []string{
			"Adoption of a feature across accounts after a launch.",
			"Engagement trends per account for customer success and churn risk.",
		},
		Tags:    []string{"pendo", "usage", "accounts"},
		Version: "1.2.0",
		Inputs: []mesh.Input{
			// A day's events arrive in that day's landings; the accounts, pages and
			// features they name are read whole.
			mesh.RawSamePartition("pendo", "page_events"), mesh.RawSamePartition("pendo", "feature_events"),
			mesh.Raw("pendo", "accounts"), mesh.Raw("pendo", "pages"), mesh.Raw("pendo", "features"),
		},
		Model: usageSQL,
		Schema: []mesh.Column{
			{Name: "usage_date", Type: mesh.Date, Required: true, Doc: "Calendar day in the Pendo subscription's time zone, whatever the zone (UTC−12 to UTC+14): the connector lands each day bucket's local date. Since 1.2.0; before, zones east of UTC+12 published a day under the previous date."},
			{Name: "account_id", Type: mesh.String, Required: true, Doc: "Pendo account id, as the app identifies the customer."},
			{Name: "account_name", Type: mesh.String, Doc: "Account name sent by the app."},
			{Name: "object_kind", Type: mesh.String, Required: true, Doc: "page or feature."},
			{Name: "object_id", Type: mesh.String, Required: true, Doc: "Pendo page or feature id."},
			{Name: "object_name", Type: mesh.String, Doc: "Page or feature name as tagged in Pendo."},
			{Name: "events", Type: mesh.Int64, Required: true, Doc: "Page views or feature clicks that day."},
			{Name: "minutes", Type: mesh.Int64, Doc: "Minutes with at least one event (summed over visitors)."},
			{Name: "visitors", Type: mesh.Int64, Doc: "Distinct visitors of the account that used it that day."},
			{Name: "day_start", Type: mesh.Timestamp, Required: true, Doc: "The day's start (local midnight) as a UTC instant."},
			{Name: "company_gid", Type: mesh.String, Doc: "Global company id of the account's website domain (framework/globalid's company_gid), as in marketing.crm_companies; null when the account sends no domain. Since 1.1.0.", Tags: []string{"company-gid"}},
		},
		PrimaryKey:     []string{"usage_date", "account_id", "object_kind", "object_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.AcceptedValues("object_kind", "page", "feature"),
			mesh.RowCount(1, 0),
			mesh.SQL("positive_events", "SELECT * FROM model WHERE events <= 0"),
			mesh.SQL("object_is_tagged", "SELECT * FROM model WHERE object_name IS NULL").AsWarn().
				Describe("Events on a page or feature that is no longer tagged keep their id but lose their name."),
		},
		Freshness: mesh.Freshness{Column: "day_start", WarnAfter: 30 * time.Hour, FailAfter: 54 * time.Hour},
		Cadence:   "30 6 * * *",
		// Days are the unit of backfill and of GA4/Pendo re-pulls: a re-run replaces its day.
		PartitionBy: "usage_date",
	}
}
