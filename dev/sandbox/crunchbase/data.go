package crunchbase

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// EmployeeRanges are the num_employees_enum codes, smallest first.
var EmployeeRanges = []string{
	"c_00001_00010", "c_00011_00050", "c_00051_00100", "c_00101_00250", "c_00251_00500",
	"c_00501_01000", "c_01001_05000", "c_05001_10000", "c_10001_max",
}

// FundingTypes are the last_funding_type values the data draws from.
var FundingTypes = []string{"pre_seed", "seed", "angel", "series_a", "series_b", "series_c", "series_d", "debt_financing", "private_equity", "grant", "corporate_round", "undisclosed"}

var categoryNames = []string{
	"Software", "SaaS", "Analytics", "Artificial Intelligence (AI)", "FinTech", "Health Care", "Logistics",
	"E-Commerce", "Robotics", "Energy", "Biotechnology", "Food and Beverage", "Media and Entertainment",
	"Cloud Computing", "Cyber Security", "Developer Tools", "Marketing", "Retail", "Manufacturing", "Education",
}

var cities = []struct{ city, country string }{
	{"San Francisco", "United States"}, {"New York", "United States"}, {"Austin", "United States"},
	{"Toronto", "Canada"}, {"London", "United Kingdom"}, {"Berlin", "Germany"}, {"Paris", "France"},
	{"São Paulo", "Brazil"}, {"Bengaluru", "India"}, {"Tokyo", "Japan"}, {"Sydney", "Australia"},
	{"Amsterdam", "Netherlands"}, {"Lagos", "Nigeria"},
}

type category struct{ uuid, value, permalink string }

type money struct {
	value    int64
	currency string
	usd      int64
}

// org is one organization. Empty strings and nil pointers are absent properties.
type org struct {
	uuid, permalink, name, description string
	founded, precision                 string // YYYY-MM-DD and day|month|year
	employees                          string
	website                            string
	categories                         []category
	fundingType                        string
	funding                            *money
	status                             string
	city, country                      string
	rank                               int64
	created, updated                   time.Time

	company, variant string // ground truth for identity tests
}

// stamp is how Crunchbase writes created_at and updated_at: seconds, Z.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// generate builds the organizations in ascending uuid order. anchor is the start
// of "today" (UTC): every seeded timestamp lies before it.
func generate(o Options, anchor time.Time) ([]*org, time.Time) {
	r := fake.New(o.Seed, "crunchbase/organizations")
	until := anchor.Add(-time.Hour)
	bulkAt := anchor.AddDate(0, 0, -3).Add(2 * time.Hour)
	cats := make([]category, len(categoryNames))
	for i, n := range categoryNames {
		cats[i] = category{uuidOf(r), n, fake.Slug(strings.NewReplacer("(", "", ")", "").Replace(n))}
	}

	taken := map[string]bool{}
	for _, c := range o.Companies {
		taken[c.Domain] = true
	}
	nMatched := min(int(math.Round(o.MatchedShare*float64(o.Organizations))), len(o.Companies))
	chosen := fake.Sample(r, o.Companies, nMatched)
	ranks := fake.Sample(r, seq(o.Organizations), o.Organizations)
	links := map[string]int{}
	var orgs []*org
	for i := range o.Organizations {
		x := &org{uuid: uuidOf(r), variant: fake.VariantUnmatched, status: "active"}
		if i < nMatched {
			c := chosen[i]
			x.name, x.company = c.Name, c.Domain
			x.website, x.variant = website(r, c.Domain)
			if r.Chance(0.1) {
				x.name += ", Inc."
			}
		} else {
			c := r.Stranger(taken)
			x.name = c.Name
			if r.Chance(0.95) {
				x.website = fake.Pick(r, []string{"https://", "https://www."}) + c.Domain
			}
		}
		x.permalink = fake.Slug(strings.TrimSuffix(x.name, ", Inc."))
		if n := links[x.permalink]; n > 0 {
			links[x.permalink]++
			x.permalink += "-" + strconv.Itoa(n+1)
		} else {
			links[x.permalink] = 1
		}
		x.description = fake.Pick(r, descriptions)
		founded := r.Between(anchor.AddDate(-30, 0, 0), anchor.AddDate(-1, 0, 0))
		switch u := r.Float64(); {
		case u < 0.6:
			x.precision = "day"
		case u < 0.85:
			x.precision = "month"
			founded = time.Date(founded.Year(), founded.Month(), 1, 0, 0, 0, 0, time.UTC)
		default:
			x.precision = "year"
			founded = time.Date(founded.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
		x.founded = founded.Format(time.DateOnly)
		x.employees = EmployeeRanges[min(len(EmployeeRanges)-1, int(r.ExpFloat64()*1.5))]
		x.categories = fake.Sample(r, cats, 1+r.IntN(3))
		if r.Chance(0.8) {
			x.fundingType = fake.Pick(r, FundingTypes)
			usd := (1 + r.Int64N(200)) * 250_000
			m := &money{value: usd, currency: "USD", usd: usd}
			if r.Chance(0.15) {
				m.currency = fake.Pick(r, []string{"EUR", "GBP", "CAD"})
				m.value = usd * 10 / 11
			}
			x.funding = m
		}
		if r.Chance(0.05) {
			x.status = "closed"
		}
		loc := fake.Pick(r, cities)
		x.city, x.country = loc.city, loc.country
		x.rank = int64(1000 + ranks[i]*37 + r.IntN(37))
		x.created = r.Between(anchor.AddDate(-6, 0, 0), anchor.AddDate(0, 0, -30)).Truncate(time.Second)
		x.updated = r.Between(x.created, until).Truncate(time.Second)
		if r.Chance(o.BulkShare) {
			x.updated = bulkAt
		}
		orgs = append(orgs, x)
	}
	slices.SortFunc(orgs, func(a, b *org) int { return strings.Compare(a.uuid, b.uuid) })
	return orgs, bulkAt
}

// website spells a canonical domain as Crunchbase's website_url of a company.
func website(r *fake.Rand, d string) (string, string) {
	switch u := r.Float64(); {
	case u < 0.45:
		return "https://" + d, fake.VariantExact
	case u < 0.75:
		return "https://www." + d, fake.VariantWWW
	case u < 0.9:
		return fake.Pick(r, []string{"http://www." + d + "/", "https://" + d + "/", "http://" + d}), fake.VariantURL
	default:
		return "https://www." + fake.TitleCase(d), fake.VariantCase
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

var descriptions = []string{
	"Edge data tooling", "Payments infrastructure for marketplaces", "Fleet routing and logistics software",
	"Clinical trial analytics", "Robotic warehouse automation", "Carbon accounting for manufacturers",
	"Developer platform for internal tools", "AI copilots for support teams", "Grocery delivery in 30 minutes",
	"Open-source observability", "Compliance automation for banks", "Energy storage for the grid",
}

// Fields the imitation serves, by field_id.
var fieldIDs = []string{
	"identifier", "short_description", "founded_on", "num_employees_enum", "website_url", "categories",
	"last_funding_type", "funding_total", "operating_status", "location_identifiers", "rank_org",
	"created_at", "updated_at", "uuid", "facet_ids",
}

func unknownFields(fields []string) []string {
	var bad []string
	for _, f := range fields {
		if !slices.Contains(fieldIDs, f) {
			bad = append(bad, f)
		}
	}
	return bad
}

// entity is the organization as a search answers it, with the requested fields.
func (x *org) entity(fields []string) map[string]any {
	return map[string]any{"uuid": x.uuid, "properties": x.properties(fields)}
}

// properties renders the requested fields; unset ones are left out, as Crunchbase does.
func (x *org) properties(fields []string) map[string]any {
	p := map[string]any{}
	for _, f := range fields {
		var v any
		switch f {
		case "identifier":
			v = map[string]any{"uuid": x.uuid, "value": x.name, "permalink": x.permalink, "entity_def_id": "organization"}
		case "uuid":
			v = x.uuid
		case "short_description":
			v = x.description
		case "founded_on":
			v = map[string]any{"value": x.founded, "precision": x.precision}
		case "num_employees_enum":
			v = x.employees
		case "website_url":
			if x.website != "" {
				v = x.website
			}
		case "categories":
			cs := make([]map[string]any, len(x.categories))
			for i, c := range x.categories {
				cs[i] = map[string]any{"uuid": c.uuid, "value": c.value, "permalink": c.permalink, "entity_def_id": "category"}
			}
			v = cs
		case "last_funding_type":
			if x.fundingType != "" {
				v = x.fundingType
			}
		case "funding_total":
			if x.funding != nil {
				v = map[string]any{"value": x.funding.value, "currency": x.funding.currency, "value_usd": x.funding.usd}
			}
		case "operating_status":
			v = x.status
		case "location_identifiers":
			v = []map[string]any{
				{"value": x.city, "location_type": "city", "permalink": fake.Slug(x.city), "entity_def_id": "location"},
				{"value": x.country, "location_type": "country", "permalink": fake.Slug(x.country), "entity_def_id": "location"},
			}
		case "rank_org":
			v = x.rank
		case "created_at":
			v = stamp(x.created)
		case "updated_at":
			v = stamp(x.updated)
		case "facet_ids":
			v = []string{"company"}
		}
		if v != nil {
			p[f] = v
		}
	}
	return p
}
