package hubspot

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/dev/sandbox/internal/fake"
)

// kind is how the imitation compares a property in search filters and sorts.
type kind uint8

const (
	text kind = iota
	number
	timestamp // stored as ISO text, filtered with epoch milliseconds
)

// objectDef is the fixed schema of one CRM object type.
type objectDef struct {
	name     string
	modProp  string          // the property search filters on to find changes
	props    map[string]kind // every property the object has
	defaults []string        // what comes back when a request names no properties
}

var objectDefs = map[string]*objectDef{
	"contacts": {
		name:    "contacts",
		modProp: "lastmodifieddate",
		props: map[string]kind{
			"email": text, "firstname": text, "lastname": text, "company": text,
			"associatedcompanyid": number, "lifecyclestage": text, "phone": text, "country": text,
			"createdate": timestamp, "lastmodifieddate": timestamp, "hs_object_id": number,
		},
		defaults: []string{"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"},
	},
	"companies": {
		name:    "companies",
		modProp: "hs_lastmodifieddate",
		props: map[string]kind{
			"name": text, "domain": text, "industry": text, "numberofemployees": number,
			"annualrevenue": number, "country": text,
			"createdate": timestamp, "hs_lastmodifieddate": timestamp, "hs_object_id": number,
		},
		defaults: []string{"createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"},
	},
	"deals": {
		name:    "deals",
		modProp: "hs_lastmodifieddate",
		// associatedcompanyid is an assumption of this imitation: real deals reach their
		// company through the associations API, not a property. Carrying it as a
		// property keeps the sandbox's deals joinable to companies without an
		// associations endpoint; a real client would read associations instead.
		props: map[string]kind{
			"dealname": text, "amount": number, "dealstage": text, "pipeline": text,
			"closedate": timestamp, "associatedcompanyid": number,
			"createdate": timestamp, "hs_lastmodifieddate": timestamp, "hs_object_id": number,
		},
		defaults: []string{"amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id", "pipeline"},
	},
}

// Objects are the CRM object types the imitation serves.
var Objects = []string{"contacts", "companies", "deals"}

// LifecycleStages and DealStages are the fixed enums the data draws from.
var (
	LifecycleStages = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist", "other"}
	DealStages      = []string{"appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}
	Industries      = []string{"COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "MARKETING_AND_ADVERTISING", "RETAIL", "LOGISTICS_AND_SUPPLY_CHAIN", "BIOTECHNOLOGY", "RENEWABLES_ENVIRONMENT", "FOOD_BEVERAGES"}
)

// record is one CRM object. A property absent from props is null.
type record struct {
	id         int64
	props      map[string]string
	created    time.Time
	updated    time.Time
	archivedAt time.Time // zero while live
}

func (r *record) archived() bool { return !r.archivedAt.IsZero() }

// setModified moves a record's modification time, keeping the top-level updatedAt
// and the object's modified property equal as they are in HubSpot.
func (r *record) setModified(def *objectDef, t time.Time) {
	t = t.UTC().Truncate(time.Millisecond)
	r.updated = t
	r.props[def.modProp] = propTime(t)
}

// store holds one object type's records in ascending id order, the order the list
// endpoint pages in.
type store struct {
	def  *objectDef
	recs []*record
	byID map[int64]*record
}

func (s *store) add(r *record) {
	s.recs = append(s.recs, r)
	s.byID[r.id] = r
}

// live returns the records not archived, in id order.
func (s *store) live() []*record {
	var out []*record
	for _, r := range s.recs {
		if !r.archived() {
			out = append(out, r)
		}
	}
	return out
}

// sample draws n of recs (all of them if fewer) uniformly, reordering recs, and
// returns them in id order.
func sample(r *fake.Rand, recs []*record, n int) []*record {
	n = min(n, len(recs))
	for i := range n { // partial Fisher–Yates: the first n are a uniform sample
		j := i + r.IntN(len(recs)-i)
		recs[i], recs[j] = recs[j], recs[i]
	}
	chosen := recs[:n]
	slices.SortFunc(chosen, func(x, y *record) int { return cmpInt(x.id, y.id) })
	return chosen
}

// propTime is how HubSpot writes timestamps inside properties: always with millis.
func propTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// instantTime is how HubSpot writes createdAt/updatedAt/archivedAt (Java's
// Instant.toString): the fraction is left out when it is zero, so clients must
// parse both shapes rather than compare strings.
func instantTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Millisecond) == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// generate builds the seeded data set. anchor is the start of "today": every
// timestamp lies before it, so data made on the same day with the same seed is
// identical whatever the hour. It returns the instants of the two batch jobs: the
// month-start one (BulkShare) and the last one (BulkContacts; zero without it).
func generate(o Options, anchor time.Time) (map[string]*store, time.Time, time.Time) {
	stores := map[string]*store{}
	for name, def := range objectDefs {
		stores[name] = &store{def: def, byID: map[int64]*record{}}
	}
	from, until := anchor.AddDate(-2, 0, 0), anchor.Add(-time.Hour)
	// A month-start batch job rewrote many records at one instant: the case that
	// makes "restart the search from the highest timestamp" loop forever.
	bulkAt := time.Date(anchor.Year(), anchor.Month()-1, 1, 3, 0, 0, 0, time.UTC)

	genCompanies(o, stores["companies"], from, until)
	genContacts(o, stores["contacts"], stores["companies"], from, until)
	genDeals(o, stores["deals"], stores["companies"], from, until)

	for _, name := range Objects {
		s := stores[name]
		r := fake.New(o.Seed, "hubspot/"+name+"/history")
		for _, rec := range s.recs {
			if rec.created.Before(bulkAt) && r.Chance(o.BulkShare) {
				rec.setModified(s.def, bulkAt)
			}
		}
		for _, rec := range s.recs {
			if r.Chance(o.ArchivedShare) {
				rec.archivedAt = r.Between(rec.updated, until)
				rec.setModified(s.def, rec.archivedAt)
			}
		}
	}
	var lastBulkAt time.Time
	if o.BulkContacts > 0 {
		// After every other change, so its instant is the newest: a cursor that
		// remembers the records at its high-water mark remembers all of these.
		lastBulkAt = until
		s := stores["contacts"]
		for _, rec := range sample(fake.New(o.Seed, "hubspot/contacts/bulk"), s.live(), o.BulkContacts) {
			rec.setModified(s.def, lastBulkAt)
		}
	}
	return stores, bulkAt, lastBulkAt
}

// newRecord draws a creation and a later modification time and fills the
// properties every object has.
func newRecord(r *fake.Rand, def *objectDef, id int64, from, until time.Time) *record {
	rec := &record{id: id, props: map[string]string{"hs_object_id": strconv.FormatInt(id, 10)}}
	rec.created = r.Between(from, until.Add(-24*time.Hour))
	rec.props["createdate"] = propTime(rec.created)
	mod := rec.created
	if r.Chance(0.85) { // most records were edited after creation
		mod = r.Between(rec.created, until)
	}
	rec.setModified(def, mod)
	return rec
}

func genCompanies(o Options, s *store, from, until time.Time) {
	r := fake.New(o.Seed, "hubspot/companies")
	id := int64(5_000_000_000)
	for i := 0; i < o.Companies; i++ {
		id += 1 + r.Int64N(4)
		rec := newRecord(r, s.def, id, from, until)
		name, slug := r.Company()
		if i > 10 && r.Chance(0.04) {
			// The same company entered twice, as every CRM accumulates: identity
			// resolution has to merge these through their (normalised) domain.
			name = s.recs[r.IntN(len(s.recs))].props["name"]
			slug = fake.Slug(name)
		}
		rec.props["name"] = name
		domain := slug + ".example"
		switch u := r.Float64(); {
		case u < 0.10:
			domain = "www." + domain
		case u < 0.15:
			domain = titleSegments(domain)
		case u < 0.18:
			domain = strings.ToUpper("www." + domain)
		case u < 0.20:
			domain = "" // unset
		}
		if domain != "" {
			rec.props["domain"] = domain
		}
		if r.Chance(0.95) {
			rec.props["industry"] = fake.Pick(r, Industries)
		}
		employees := int64(1) << r.IntN(15)
		employees += r.Int64N(employees)
		rec.props["numberofemployees"] = strconv.FormatInt(employees, 10)
		if r.Chance(0.9) {
			rec.props["annualrevenue"] = strconv.FormatInt(employees*(50_000+r.Int64N(250_000)), 10)
		}
		rec.props["country"] = r.Country()
		s.add(rec)
	}
}

func genContacts(o Options, s, companies *store, from, until time.Time) {
	r := fake.New(o.Seed, "hubspot/contacts")
	id := int64(100)
	for i := 0; i < o.Contacts; i++ {
		id += 1 + r.Int64N(3)
		rec := newRecord(r, s.def, id, from, until)
		first, last := r.Person()
		rec.props["firstname"], rec.props["lastname"] = first, last
		mailDomain := fake.Pick(r, []string{"mail.example", "inbox.example", "post.example"})
		if len(companies.recs) > 0 && r.Chance(0.85) {
			c := companies.recs[r.IntN(len(companies.recs))]
			rec.props["company"] = c.props["name"]
			rec.props["associatedcompanyid"] = strconv.FormatInt(c.id, 10)
			mailDomain = strings.TrimPrefix(strings.ToLower(c.props["domain"]), "www.")
			if mailDomain == "" {
				mailDomain = fake.Slug(c.props["name"]) + ".example"
			}
		}
		local := ascii(first) + "." + ascii(last)
		if r.Chance(0.2) {
			local += strconv.Itoa(r.IntN(100))
		}
		switch u := r.Float64(); {
		case u < 0.03: // typed by hand: identity work lower-cases emails
			rec.props["email"] = local + "@" + titleSegments(mailDomain)
		case u < 0.05: // unset
		default:
			rec.props["email"] = strings.ToLower(local + "@" + mailDomain)
		}
		rec.props["lifecyclestage"] = fake.Pick(r, LifecycleStages)
		if r.Chance(0.7) {
			rec.props["phone"] = "+1 555-01" + strconv.Itoa(10+r.IntN(90))
		}
		rec.props["country"] = r.Country()
		s.add(rec)
	}
}

func genDeals(o Options, s, companies *store, from, until time.Time) {
	r := fake.New(o.Seed, "hubspot/deals")
	products := []string{"Platform", "Analytics", "Support", "Onboarding", "Seats"}
	kinds := []string{"new business", "renewal", "upsell", "pilot"}
	id := int64(9_000_000_000)
	for i := 0; i < o.Deals; i++ {
		id += 1 + r.Int64N(4)
		rec := newRecord(r, s.def, id, from, until)
		name := fake.Pick(r, products) + " " + fake.Pick(r, kinds)
		if len(companies.recs) > 0 && r.Chance(0.95) {
			c := companies.recs[r.IntN(len(companies.recs))]
			rec.props["associatedcompanyid"] = strconv.FormatInt(c.id, 10)
			name = c.props["name"] + " – " + name
		}
		rec.props["dealname"] = name
		amount := strconv.FormatInt(500*(2+r.Int64N(500)), 10)
		if r.Chance(0.3) {
			amount += ".5"
		}
		rec.props["amount"] = amount
		rec.props["dealstage"] = fake.Pick(r, DealStages)
		rec.props["pipeline"] = "default"
		rec.props["closedate"] = propTime(rec.created.Add(time.Duration(7+r.IntN(180)) * 24 * time.Hour))
		s.add(rec)
	}
}

// titleSegments upper-cases the first letter of each hyphen- or dot-separated
// part: "nimbus-labs.example" → "Nimbus-Labs.Example".
func titleSegments(s string) string {
	b := []byte(s)
	for i := range b {
		if (i == 0 || b[i-1] == '-' || b[i-1] == '.') && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// ascii makes a name usable in an email local part.
func ascii(s string) string {
	return strings.NewReplacer("ü", "u", "'", "", " ", "").Replace(strings.ToLower(s))
}
