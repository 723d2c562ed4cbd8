package peopledatalabs

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/hubspot"
	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// How a HubSpot company is found in PDL (Match.Via).
const (
	ViaWebsite           = "website"            // its domain is the record's website
	ViaAlternativeDomain = "alternative_domain" // its domain is one of the record's alternative_domains
	ViaNone              = "none"               // no record: enrichment answers 404
)

// Match is the ground truth of one HubSpot company: the record PDL holds for it.
type Match struct {
	Company    string `json:"company"`    // its canonical domain, as HubSpot holds it
	ID         string `json:"id"`         // the PDL company id; "" when there is none
	Website    string `json:"website"`    // the record's website ("" when none)
	Likelihood int    `json:"likelihood"` // what an enrichment by website answers (0 when none)
	Via        string `json:"via"`        // Via* above
}

// company is one record of PDL's company dataset. rec holds the fields as PDL
// serves them (lower-case strings, null for a missing scalar, [] for a missing
// list); the Go fields are the keys it is matched on, which never change.
type company struct {
	ordinal    int // the search order and the scroll token's position
	id, slug   string
	name       string // lower case, as PDL holds names
	website    string
	altDomains []string
	ticker     string
	likelihood int // of a match by website or profile; a name alone gives less
	rec        map[string]any

	match Match // ground truth; Company "" for strangers
}

// person is one record of PDL's person dataset.
type person struct {
	id, slug string
	first    string
	last     string
	emails   []string // lower case
	phone    string
	employer *company
	rec      map[string]any
}

// hubSpotCompanies are the companies of a default HubSpot imitation: the ground
// truth a PDL sandbox started on its own shares with one started beside HubSpot.
func hubSpotCompanies(seed int64, now func() time.Time) []fake.Company {
	return hubspot.New(hubspot.Options{Seed: seed, Now: now, RateLimit: -1}).CompanyDomains()
}

// Sizes are PDL's employee ranges, smallest first, with their upper bounds.
var Sizes = []struct {
	Range string
	Max   int
}{
	{"1-10", 10}, {"11-50", 50}, {"51-200", 200}, {"201-500", 500}, {"501-1000", 1000},
	{"1001-5000", 5000}, {"5001-10000", 10000}, {"10001+", math.MaxInt},
}

func sizeOf(employees int) string {
	for _, s := range Sizes {
		if employees <= s.Max {
			return s.Range
		}
	}
	return Sizes[len(Sizes)-1].Range
}

// FundingStages are latest_funding_stage values, earliest first.
var FundingStages = []string{"pre_seed", "seed", "series_a", "series_b", "series_c", "series_d", "private_equity", "debt_financing", "grant"}

var industries = []string{
	"computer software", "internet", "information technology and services", "financial services",
	"hospital & health care", "marketing and advertising", "retail", "logistics and supply chain",
	"biotechnology", "renewables & environment", "food & beverages", "e-learning",
}

type place struct{ locality, region, metro, country, continent, geo, postal string }

var places = []place{
	{"san francisco", "california", "san francisco, california", "united states", "north america", "37.77,-122.41", "94105"},
	{"new york", "new york", "new york, new york", "united states", "north america", "40.71,-74.00", "10017"},
	{"austin", "texas", "austin, texas", "united states", "north america", "30.26,-97.74", "78701"},
	{"toronto", "ontario", "", "canada", "north america", "43.65,-79.38", "m5v 2t6"},
	{"london", "england", "", "united kingdom", "europe", "51.50,-0.12", "ec2a 4ny"},
	{"berlin", "berlin", "", "germany", "europe", "52.52,13.40", "10115"},
	{"paris", "ile-de-france", "", "france", "europe", "48.85,2.35", "75002"},
	{"bengaluru", "karnataka", "", "india", "asia", "12.97,77.59", "560001"},
	{"sydney", "new south wales", "", "australia", "oceania", "-33.86,151.20", "2000"},
	{"são paulo", "são paulo", "", "brazil", "south america", "-23.55,-46.63", "01310-100"},
}

var streets = []string{"market street", "main street", "king street", "harbor way", "mission street", "park avenue"}

var summaries = []string{
	"edge data tooling for industrial teams", "payments infrastructure for marketplaces",
	"fleet routing and logistics software", "clinical trial analytics", "robotic warehouse automation",
	"carbon accounting for manufacturers", "developer platform for internal tools", "ai copilots for support teams",
}

var tags = []string{"saas", "b2b", "analytics", "artificial intelligence", "fintech", "logistics", "healthtech", "developer tools", "e-commerce", "climate"}

var titles = []struct{ title, role string }{
	{"chief executive officer", "operations"}, {"software engineer", "engineering"}, {"account executive", "sales"},
	{"product manager", "product"}, {"marketing manager", "marketing"}, {"data analyst", "engineering"},
	{"customer success manager", "customer_service"}, {"head of finance", "finance"},
}

// generate builds the company records in search order, then their people.
// anchor is the start of "today" (UTC): every date lies before it.
func generate(o Options, anchor time.Time) ([]*company, []*person) {
	r := fake.New(o.Seed, "peopledatalabs/companies")
	ids := map[string]bool{}
	taken := map[string]bool{}
	for _, c := range o.Companies {
		taken[c.Domain] = true
	}
	nMatched := int(math.Round(o.MatchedShare * float64(len(o.Companies))))
	matched := map[string]bool{}
	for _, c := range fake.Sample(r, o.Companies, nMatched) {
		matched[c.Domain] = true
	}
	var out []*company
	for _, c := range o.Companies { // in HubSpot's order, so the draws do not depend on sampling order
		if !matched[c.Domain] {
			continue
		}
		x := newCompany(r, o, anchor, ids, c.Name, c.Domain)
		x.match = Match{Company: c.Domain, ID: x.id, Website: c.Domain, Likelihood: x.likelihood, Via: ViaWebsite}
		if r.Chance(o.AlternativeShare) {
			// A rebrand: the record's website is a new domain nobody else has, and
			// the domain HubSpot holds survives as an alternative domain.
			renamed := strings.TrimSuffix(c.Domain, ".example") + "-hq.example"
			for taken[renamed] {
				renamed = "new-" + renamed
			}
			taken[renamed] = true
			x.website, x.altDomains = renamed, append([]string{c.Domain}, x.altDomains...)
			x.match.Website, x.match.Via = renamed, ViaAlternativeDomain
		}
		out = append(out, x)
	}
	for range o.Strangers {
		c := r.Stranger(taken)
		out = append(out, newCompany(r, o, anchor, ids, c.Name, c.Domain))
	}
	// Search answers in PDL's order, which is neither HubSpot's nor by id.
	order := fake.Sample(r, out, len(out))
	for i, x := range order {
		x.ordinal = i
		x.render(o, r, anchor)
	}
	return order, generatePeople(o, anchor, order)
}

func newCompany(r *fake.Rand, o Options, anchor time.Time, ids map[string]bool, name, domain string) *company {
	x := &company{name: strings.ToLower(name), website: domain}
	for x.id == "" || ids[x.id] {
		x.id = pdlID(r, 28)
	}
	ids[x.id] = true
	x.slug = strings.TrimSuffix(domain, ".example")
	if r.Chance(0.3) {
		x.altDomains = []string{x.slug + ".io"}
	}
	if r.Chance(0.05) {
		x.ticker = strings.ToUpper(x.slug[:min(4, len(x.slug))])
		x.ticker = strings.ReplaceAll(x.ticker, "-", "")
	}
	switch u := r.Float64(); { // logarithmic: most matches by website are sure, a tenth are weak
	case u < 0.45:
		x.likelihood = 10
	case u < 0.75:
		x.likelihood = 8 + r.IntN(2)
	case u < 0.9:
		x.likelihood = 5 + r.IntN(3)
	default:
		x.likelihood = 2 + r.IntN(3)
	}
	x.rec = map[string]any{"display_name": name}
	return x
}

// render fills the record's fields as PDL serves them.
func (x *company) render(o Options, r *fake.Rand, anchor time.Time) {
	employees := 1 + int(r.ExpFloat64()*150)
	if r.Chance(0.1) {
		employees *= 40
	}
	p := fake.Pick(r, places)
	street := strconv.Itoa(1+r.IntN(2000)) + " " + fake.Pick(r, streets)
	loc := map[string]any{
		"name": strings.Join(nonEmpty(p.locality, p.region, p.country), ", "), "locality": p.locality, "region": p.region,
		"metro": nullIfEmpty(p.metro), "country": p.country, "continent": p.continent,
		"street_address": street, "address_line_2": nil, "postal_code": p.postal, "geo": p.geo,
	}
	founded := anchor.Year() - 1 - r.IntN(30)
	var funding any
	var stage, lastFunding any
	rounds := 0
	stages := []string{}
	if r.Chance(0.7) {
		rounds = 1 + r.IntN(5)
		for i := range rounds {
			stages = append(stages, FundingStages[min(i, len(FundingStages)-1)])
		}
		stage = stages[len(stages)-1]
		funding = float64((1 + r.Int64N(200)) * 250_000)
		lastFunding = r.Between(anchor.AddDate(-5, 0, 0), anchor.AddDate(0, 0, -10)).Format(time.DateOnly)
	}
	typ := "private"
	if x.ticker != "" {
		typ = "public"
	}
	profiles := []string{"linkedin.com/company/" + x.slug}
	twitter := any(nil)
	if r.Chance(0.6) {
		twitter = "twitter.com/" + strings.ReplaceAll(x.slug, "-", "")
		profiles = append(profiles, twitter.(string))
	}
	altNames := []string{}
	if r.Chance(0.2) {
		altNames = append(altNames, x.name+" inc")
	}
	for k, v := range map[string]any{
		"id": x.id, "name": x.name, "size": sizeOf(employees), "employee_count": employees,
		"founded": founded, "industry": fake.Pick(r, industries), "location": loc,
		"linkedin_id": strconv.Itoa(10000 + r.IntN(90_000_000)), "linkedin_url": profiles[0], "linkedin_slug": x.slug,
		"facebook_url": nil, "twitter_url": twitter, "profiles": profiles,
		"website": x.website, "ticker": nullIfEmpty(strings.ToLower(x.ticker)), "type": typ,
		"summary": fake.Pick(r, summaries), "headline": nil, "tags": fake.Sample(r, tags, r.IntN(4)),
		"alternative_names": altNames, "alternative_domains": nonNilStrings(x.altDomains), "affiliated_profiles": []string{},
		"total_funding_raised": funding, "latest_funding_stage": stage, "last_funding_date": lastFunding,
		"number_funding_rounds": rounds, "funding_stages": stages,
		"employee_count_by_country": map[string]int{p.country: employees},
		"dataset_version":           o.DatasetVersion,
	} {
		x.rec[k] = v
	}
}

// generatePeople gives each company a few employees whose work email is at its website.
func generatePeople(o Options, anchor time.Time, companies []*company) []*person {
	r := fake.New(o.Seed, "peopledatalabs/people")
	ids := map[string]bool{}
	emails := map[string]bool{}
	var out []*person
	for _, c := range companies {
		for range r.IntN(4) {
			first, last := r.Person()
			p := &person{first: strings.ToLower(first), last: strings.ToLower(last), employer: c}
			for p.id == "" || ids[p.id] {
				p.id = pdlID(r, 22) + "_0000"
			}
			ids[p.id] = true
			local := ascii(p.first) + "." + ascii(p.last)
			for emails[local+"@"+c.website] {
				local += strconv.Itoa(r.IntN(10))
			}
			work := local + "@" + c.website
			emails[work] = true
			p.emails = []string{work}
			personal := []string{}
			if r.Chance(0.4) {
				personal = append(personal, local+strconv.Itoa(r.IntN(100))+"@"+fake.Pick(r, []string{"mail.example", "inbox.example"}))
				p.emails = append(p.emails, personal[0])
			}
			p.slug = ascii(p.first) + "-" + ascii(p.last) + "-" + strconv.FormatInt(r.Int64N(1<<32), 36)
			if r.Chance(0.5) {
				p.phone = "+1555" + strconv.Itoa(1_000_000+r.IntN(9_000_000))
			}
			t := fake.Pick(r, titles)
			emailObjs := []map[string]any{{"address": work, "type": "current_professional"}}
			for _, e := range personal {
				emailObjs = append(emailObjs, map[string]any{"address": e, "type": "personal"})
			}
			phones := []string{}
			if p.phone != "" {
				phones = append(phones, p.phone)
			}
			loc := c.rec["location"].(map[string]any)
			start := r.Between(anchor.AddDate(-8, 0, 0), anchor.AddDate(0, -1, 0)).Format("2006-01")
			p.rec = map[string]any{
				"id": p.id, "full_name": p.first + " " + p.last, "first_name": p.first, "middle_initial": nil, "middle_name": nil,
				"last_initial": p.last[:1], "last_name": p.last, "sex": nil, "birth_year": nil, "birth_date": nil,
				"linkedin_url": "linkedin.com/in/" + p.slug, "linkedin_username": p.slug, "linkedin_id": strconv.Itoa(1_000_000 + r.IntN(900_000_000)),
				"facebook_url": nil, "twitter_url": nil, "github_url": nil,
				"work_email": work, "personal_emails": personal, "recommended_personal_email": firstOrNil(personal),
				"mobile_phone": nullIfEmpty(p.phone), "phone_numbers": phones, "emails": emailObjs,
				"industry": c.rec["industry"], "job_title": t.title, "job_title_role": t.role, "job_title_levels": []string{},
				"job_company_id": c.id, "job_company_name": c.name, "job_company_website": c.website,
				"job_company_size": c.rec["size"], "job_company_industry": c.rec["industry"], "job_start_date": start,
				"location_name": loc["name"], "location_locality": loc["locality"], "location_region": loc["region"],
				"location_country": loc["country"], "location_continent": loc["continent"],
				"skills": []string{}, "interests": []string{}, "experience": []any{}, "education": []any{},
				"profiles":        []map[string]any{{"network": "linkedin", "url": "linkedin.com/in/" + p.slug, "username": p.slug}},
				"dataset_version": o.DatasetVersion,
			}
			out = append(out, p)
		}
	}
	return out
}

// pdlID draws an alphanumeric id of n characters, the shape of PDL's.
func pdlID(r *fake.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// indexes find records by what enrichment matches on.
type indexes struct {
	byID, bySlug, byDomain, byName, byTicker, byProfile map[string]*company
	personByEmail, personByID, personByProfile          map[string]*person
	personByPhone                                       map[string]*person
}

func (a *API) reindex() {
	ix := indexes{
		byID: map[string]*company{}, bySlug: map[string]*company{}, byDomain: map[string]*company{},
		byName: map[string]*company{}, byTicker: map[string]*company{}, byProfile: map[string]*company{},
		personByEmail: map[string]*person{}, personByID: map[string]*person{},
		personByProfile: map[string]*person{}, personByPhone: map[string]*person{},
	}
	for _, x := range a.companies {
		ix.byID[strings.ToLower(x.id)] = x
		ix.bySlug[x.slug] = x
		ix.byDomain[x.website] = x
		for _, d := range x.altDomains {
			if ix.byDomain[d] == nil {
				ix.byDomain[d] = x
			}
		}
		// Two companies may share a name; PDL then picks the bigger one.
		if y := ix.byName[x.name]; y == nil || employees(x) > employees(y) {
			ix.byName[x.name] = x
		}
		if x.ticker != "" {
			ix.byTicker[strings.ToLower(x.ticker)] = x
		}
		for _, p := range x.rec["profiles"].([]string) {
			ix.byProfile[p] = x
		}
	}
	for _, p := range a.people {
		ix.personByID[strings.ToLower(p.id)] = p
		for _, e := range p.emails {
			ix.personByEmail[e] = p
		}
		ix.personByProfile["linkedin.com/in/"+p.slug] = p
		if p.phone != "" {
			ix.personByPhone[p.phone] = p
		}
	}
	a.index = ix
}

func employees(x *company) int { n, _ := x.rec["employee_count"].(int); return n }

// ascii makes a name usable in an email local part or a profile slug.
func ascii(s string) string {
	return strings.NewReplacer("ü", "u", "'", "", " ", "").Replace(strings.ToLower(s))
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func firstOrNil(xs []string) any {
	if len(xs) == 0 {
		return nil
	}
	return xs[0]
}

func nonEmpty(xs ...string) []string {
	return slices.DeleteFunc(xs, func(s string) bool { return s == "" })
}

func nonNilStrings(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
