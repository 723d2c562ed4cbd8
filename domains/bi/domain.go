// Package bi is the business intelligence domain: how the company's Looker is used —
// which dashboards people open, and which of the mesh's products feed them — read
// from Looker's own API and System Activity. The BI platform team owns it. Looker is
// a source only this domain reads, so its spec lives here (sources/looker.yaml);
// the domain also registers a workflow of its own, ExportLookML, which writes a
// product's port as a LookML view for the Looker project.
package bi

import (
	"embed"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// Name is the domain's name; its workers poll the task queue "meshflow.bi".
const Name = "bi"

var (
	//go:embed models/dashboard_usage_daily.sql
	usageSQL string
	//go:embed models/content_sources.sql
	sourcesSQL string
)

// folder is the domain's folder as the build embeds it: `mesh check` names a
// model's file and line, and finds a .sql file no product uses.
//
//go:embed models
var folder embed.FS

// Domain declares the bi domain: its products, the Looker source, and its own
// workflow.
func Domain() mesh.Domain {
	return mesh.Domain{
		Name:        Name,
		Files:       folder,
		Owner:       "bi-platform",
		Contact:     "#bi-platform",
		Description: "How the company's Looker is used: dashboard views per user and day, and which mesh products feed each dashboard and Look.",
		Products:    []mesh.Product{dashboardUsage(), contentSources()},
		Sources:     []source.Connector{Looker()},
		Register:    register,
	}
}

func dashboardUsage() mesh.Product {
	return mesh.Product{
		Name: "dashboard_usage_daily",
		Description: "Views of each Looker dashboard per user and day (UTC), with the viewer's global person id. " +
			"A view is one opening of a dashboard (a dashboard session); scheduled deliveries are not views.",
		UseCases: []string{
			"Find the dashboards nobody opens any more before changing the products they read.",
			"Join who reads a product's dashboards to the people of other domains on person_gid.",
		},
		Tags:    []string{"looker", "usage", "dashboards"},
		Version: "1.0.0",
		Inputs:  []mesh.Input{mesh.Raw("looker", "query_history"), mesh.Raw("looker", "dashboards")},
		Model:   usageSQL,
		Schema: []mesh.Column{
			{Name: "view_date", Type: mesh.Date, Required: true, Doc: "The UTC day of the views (System Activity's times are UTC)."},
			{Name: "dashboard_id", Type: mesh.String, Required: true, Doc: "Looker dashboard id."},
			{Name: "dashboard_title", Type: mesh.String, Doc: "The dashboard's current title; null once it is deleted (Looker lists deleted dashboards no more, but keeps their history)."},
			{Name: "user_id", Type: mesh.String, Required: true, Doc: "Looker user id of the viewer."},
			{Name: "email", Type: mesh.String, Doc: "The viewer's e-mail address, trimmed and lower-cased (framework/globalid's email_address).", Tags: mesh.PII(mesh.TagEmail)},
			{Name: "person_gid", Type: mesh.String, Doc: "Global person id of the viewer from the e-mail address (framework/globalid's person_gid), as in engineering.github_commits' authors; null without a valid address.", Tags: []string{"person-gid"}},
			{Name: "views", Type: mesh.Int64, Required: true, Doc: "Times the user opened the dashboard that day (distinct dashboard sessions)."},
			{Name: "queries", Type: mesh.Int64, Required: true, Doc: "Queries those views ran (one per tile and opening)."},
			{Name: "cached_queries", Type: mesh.Int64, Required: true, Doc: "Of those, the ones Looker answered from its cache."},
			{Name: "runtime_seconds", Type: mesh.Float64, Doc: "Total run time of those queries, in seconds."},
		},
		PrimaryKey:     []string{"view_date", "dashboard_id", "user_id"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.SQL("views_positive", "SELECT * FROM model WHERE views < 1 OR queries < views"),
			mesh.SQL("person_gid_where_email", "SELECT * FROM model WHERE email IS NOT NULL AND person_gid IS NULL").AsWarn().
				Describe("A viewer whose address is not a valid one cannot be joined to other domains."),
		},
		Freshness: mesh.Freshness{WarnAfter: 30 * time.Hour, FailAfter: 54 * time.Hour},
		Cadence:   "15 5 * * *",
	}
}

func contentSources() mesh.Product {
	return mesh.Product{
		Name: "content_sources",
		Description: "Which LookML explores each Looker dashboard and Look reads, the mesh product port behind each explore, and how often the content is viewed. " +
			"An explore named <product>_v<major> in the model named after a domain reads that domain's port.",
		UseCases: []string{
			"Before a breaking change to a product, list the dashboards that read it and how many people view them.",
			"Find the dashboards still built on tables outside the mesh.",
		},
		Tags:    []string{"looker", "lineage", "dashboards"},
		Version: "1.0.0",
		Inputs: []mesh.Input{
			mesh.Raw("looker", "dashboards"), mesh.Raw("looker", "dashboard_elements"),
			mesh.Raw("looker", "looks"), mesh.Raw("looker", "query_history"),
		},
		Model: sourcesSQL,
		Schema: []mesh.Column{
			{Name: "content_type", Type: mesh.String, Required: true, Doc: "dashboard or look."},
			{Name: "content_id", Type: mesh.String, Required: true, Doc: "Looker id of the dashboard or Look."},
			{Name: "title", Type: mesh.String, Doc: "Its title."},
			{Name: "model", Type: mesh.String, Required: true, Doc: "LookML model its queries read (query.model)."},
			{Name: "explore", Type: mesh.String, Required: true, Doc: "Explore its queries read (Looker's query.view)."},
			{Name: "on_mesh", Type: mesh.Bool, Required: true, Doc: "True when the explore is named after a mesh port (<product>_v<major>)."},
			{Name: "source_domain", Type: mesh.String, Doc: "The mesh domain whose port the explore reads; null off the mesh."},
			{Name: "source_product", Type: mesh.String, Doc: "The mesh product; null off the mesh."},
			{Name: "source_major", Type: mesh.Int64, Doc: "The port's major version."},
			{Name: "source_port", Type: mesh.String, Doc: "The port as mesh query names it: domain.product_vN."},
			{Name: "tiles", Type: mesh.Int64, Required: true, Doc: "Tiles of the dashboard reading the explore (1 for a Look)."},
			{Name: "views", Type: mesh.Int64, Required: true, Doc: "Times the content was opened in the landed history (dashboard sessions, Look runs)."},
			{Name: "viewers", Type: mesh.Int64, Required: true, Doc: "Distinct users who opened it."},
			{Name: "last_viewed", Type: mesh.Date, Doc: "The last UTC day it was opened; null when never in the landed history."},
		},
		PrimaryKey:     []string{"content_type", "content_id", "model", "explore"},
		Classification: mesh.Internal,
		Checks: []mesh.Check{
			mesh.RowCount(1, 0),
			mesh.AcceptedValues("content_type", "dashboard", "look"),
			mesh.SQL("mesh_reads_name_a_port", "SELECT * FROM model WHERE on_mesh AND (source_product IS NULL OR source_major IS NULL)"),
		},
		Freshness: mesh.Freshness{WarnAfter: 30 * time.Hour, FailAfter: 54 * time.Hour},
		Cadence:   "15 5 * * *",
	}
}
