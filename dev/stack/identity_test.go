package stack_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/dev/sandbox"
	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
	sbhubspot "github.com/meshflow/meshflow/dev/sandbox/hubspot"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
	"github.com/meshflow/meshflow/dev/stack"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/workers/host"
)

// TestIdentity runs the identity and metrics products, and the products they read, on
// the real dev server against the sandbox, and compares the global ids with the
// sandbox's ground truth: which Pendo accounts, Crunchbase organizations and GitHub
// organisations derive from which HubSpot company, however their domain is spelled.
func TestIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: needs bin/temporal")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := testLog(t, zerolog.WarnLevel)
	st := startStack(t, ctx, stack.Options{Log: log})
	cfg, stores := openLake(t, ctx, st, t.TempDir())
	m := domains.Mesh()
	startWorker(t, st, cfg, m, stores)

	// The identity and metrics products and everything they read, inputs first.
	order, err := stack.Order(m)
	if err != nil {
		t.Fatal(err)
	}
	need := upstream(m, "identity.identity_match_report", "metrics.revenue_engagement_weekly")
	for _, e := range order {
		if need[e.Ref().String()] {
			runProduct(t, ctx, st, m, e.Ref().String())
		}
	}

	hs := sandbox.Get[*sbhubspot.API](st.Sandbox)
	var pd, cb, gh []matchTruth
	for _, m := range sandbox.Get[*sbpendo.API](st.Sandbox).Matches() {
		pd = append(pd, matchTruth{m.ID, m.Domain, m.Company, m.Variant})
	}
	for _, m := range sandbox.Get[*sbcrunchbase.API](st.Sandbox).Matches() {
		cb = append(cb, matchTruth{m.ID, m.Domain, m.Company, m.Variant})
	}
	for _, m := range sandbox.Get[*sbgithub.API](st.Sandbox).OrgMatches() {
		gh = append(gh, matchTruth{m.ID, m.Domain, m.Company, m.Variant})
	}
	ids := readRows(t, stores, port.TableID{Domain: "identity", Name: "company_ids_v1"})
	gidOf := map[string]string{} // source_system/source_id → company_gid
	holders := map[string]map[string]bool{}
	for _, r := range ids {
		gidOf[r["source_system"]+"/"+r["source_id"]] = r["company_gid"]
		if r["company_gid"] != "" {
			if holders[r["company_gid"]] == nil {
				holders[r["company_gid"]] = map[string]bool{}
			}
			holders[r["company_gid"]][r["source_system"]] = true
		}
	}

	// Record by record: an account or organization derived from a HubSpot company has
	// that company's global id whatever the spelling; a stranger shares none with HubSpot.
	truths := map[string][]matchTruth{"pendo": pd, "crunchbase": cb, "github": gh}
	for system, truth := range truths {
		for _, m := range truth {
			gid, ok := gidOf[system+"/"+m.ID]
			switch {
			case !ok:
				t.Errorf("%s %s is missing from company_ids", system, m.ID)
			case m.Company != "" && (gid != globalid.CompanyGID(m.Company) || !holders[gid]["hubspot"]):
				t.Errorf("%s %s (%q, %s of %s) has company_gid %q, want HubSpot's %q", system, m.ID, m.Domain, m.Variant, m.Company, gid, globalid.CompanyGID(m.Company))
			case m.Company == "" && holders[gid]["hubspot"]:
				t.Errorf("%s stranger %s (%q) matched a HubSpot company", system, m.ID, m.Domain)
			}
		}
	}

	// The report's counts per source equal the ground truth's.
	hubspotDomains := map[string]bool{}
	for _, c := range hs.CompanyDomains() {
		hubspotDomains[c.Domain] = true
	}
	want := map[string]reportRow{}
	for system, truth := range truths {
		others := map[string]bool{} // the domains the other vendors name
		for other, t := range truths {
			if other != system {
				maps.Copy(others, truthKeys(t))
			}
		}
		want[system] = expectedReport(truth, hubspotDomains, others)
	}
	report := map[string]map[string]string{}
	for _, r := range readRows(t, stores, port.TableID{Domain: "identity", Name: "identity_match_report_v1"}) {
		if r["entity"] == "company" {
			report[r["source_system"]] = r
		}
	}
	for system, w := range want {
		r := report[system]
		got := reportRow{records: atoi(t, r["records"]), withGID: atoi(t, r["with_gid"]), matched: atoi(t, r["matched"]),
			matchedHubSpot: atoi(t, r["matched_hubspot"]), noGID: atoi(t, r["unmatched_no_gid"]), conflicts: atoi(t, r["conflicts"])}
		if got != w {
			t.Errorf("identity_match_report for %s = %+v, want the sandbox's ground truth %+v", system, got, w)
		}
		t.Logf("%s: %d records, %d matched to HubSpot (%d to any other source), %d without a domain, %d with no partner",
			system, got.records, got.matchedHubSpot, got.matched, got.noGID, atoi(t, r["unmatched_no_partner"]))
	}
	hub := report["hubspot"]
	if atoi(t, hub["records"]) != hs.Count("companies") || atoi(t, hub["distinct_gids"]) != len(hubspotDomains) {
		t.Errorf("hubspot: %s records with %s distinct ids, want %d live companies with %d distinct domains",
			hub["records"], hub["distinct_gids"], hs.Count("companies"), len(hubspotDomains))
	}
	// HubSpot holds companies entered twice: reported as conflicts, not merged.
	if dup := atoi(t, hub["with_gid"]) - atoi(t, hub["distinct_gids"]); (dup > 0) != (atoi(t, hub["conflicts"]) > 0) || atoi(t, hub["conflict_gids"]) > dup {
		t.Errorf("hubspot conflicts = %s records over %s ids, but %d records repeat an id", hub["conflicts"], hub["conflict_gids"], dup)
	}

	// crm_companies ⋈ organizations ⋈ account_usage_daily on company_gid: the companies
	// in all three are the HubSpot companies that both a Pendo account with usage and a
	// Crunchbase organization derive from.
	companies := gids(t, stores, "marketing", "crm_companies_v1")
	orgs := gids(t, stores, "market_intelligence", "organizations_v1")
	usage := gids(t, stores, "product", "account_usage_daily_v1")
	joined := 0
	for g := range companies {
		if orgs[g] && usage[g] {
			joined++
		}
	}
	withUsage := map[string]bool{}
	for _, id := range readColumnNamed(t, stores, port.TableID{Domain: "product", Name: "account_usage_daily_v1"}, "account_id") {
		withUsage[id] = true
	}
	inCrunchbase := map[string]bool{}
	for _, m := range cb {
		if m.Company != "" {
			inCrunchbase[m.Company] = true
		}
	}
	expected := map[string]bool{}
	for _, m := range pd {
		if m.Company != "" && withUsage[m.ID] && inCrunchbase[m.Company] {
			expected[m.Company] = true
		}
	}
	if joined != len(expected) || joined == 0 {
		t.Errorf("crm_companies ⋈ organizations ⋈ account_usage_daily on company_gid = %d companies, want %d", joined, len(expected))
	}
	t.Logf("companies in crm_companies, organizations and account_usage_daily: %d", joined)

	// The metrics product joins its inputs on the same ids and records what it read.
	checkRevenueEngagement(t, ctx, stores, usage, orgs)
}

// checkRevenueEngagement checks revenue_engagement_weekly against its inputs: its
// companies with usage are exactly those of account_usage_daily, those with deals
// exactly those of crm_deals, organization facts appear where Crunchbase knows the
// company, and its lineage names the snapshots of its four input ports.
func checkRevenueEngagement(t *testing.T, ctx context.Context, stores *host.Stores, usage, orgs map[string]bool) {
	t.Helper()
	rows := readRows(t, stores, port.TableID{Domain: "metrics", Name: "revenue_engagement_weekly_v1"})
	if len(rows) == 0 {
		t.Fatal("revenue_engagement_weekly published no rows")
	}
	withEvents, withDeals, withOrg := map[string]bool{}, map[string]bool{}, map[string]bool{}
	all := 0
	for _, r := range rows {
		g := r["company_gid"]
		if atoi(t, r["events"]) > 0 {
			withEvents[g] = true
		}
		if atoi(t, r["won_deals"])+atoi(t, r["open_deals"]) > 0 {
			withDeals[g] = true
		}
		if r["organization_name"] != "" {
			withOrg[g] = true
			if !orgs[g] {
				t.Errorf("week %s of %s has organization facts, but organizations has no such company", r["week_start"], g)
			}
		}
		if atoi(t, r["events"]) > 0 && atoi(t, r["won_deals"])+atoi(t, r["open_deals"]) > 0 && r["organization_name"] != "" && r["site_sessions"] != "" {
			all++
		}
	}
	if !maps.Equal(withEvents, usage) {
		t.Errorf("revenue_engagement_weekly has usage for %d companies, account_usage_daily for %d", len(withEvents), len(usage))
	}
	deals := map[string]bool{}
	dealRows := readRows(t, stores, port.TableID{Domain: "marketing", Name: "crm_deals_v1"})
	for _, r := range dealRows {
		if r["company_gid"] != "" && r["close_date"] != "" && (r["is_won"] == "true" || r["is_closed"] == "false") {
			deals[r["company_gid"]] = true
		}
	}
	if !maps.Equal(withDeals, deals) {
		t.Errorf("revenue_engagement_weekly has deals for %d companies, crm_deals (won or open, with a close date) for %d", len(withDeals), len(deals))
	}
	if all == 0 {
		t.Error("no week of any company has deals, usage, organization facts and web traffic together: the four inputs do not join")
	}
	t.Logf("revenue_engagement_weekly: %d rows; companies with usage %d, with deals %d, with Crunchbase facts %d; %d company-weeks join all four inputs",
		len(rows), len(withEvents), len(withDeals), len(withOrg), all)

	// The lineage the snapshot records (what `mesh show` and the catalog print); read
	// from the port itself, since the product is restricted like the deals it sums.
	snap, ok, err := stores.Ports.Current(ctx, port.TableID{Domain: "metrics", Name: "revenue_engagement_weekly_v1"})
	if err != nil || !ok {
		t.Fatalf("revenue_engagement_weekly has no current snapshot: %v", err)
	}
	var read map[string]int64
	if err := json.Unmarshal([]byte(snap.Properties[flow.PropInputs]), &read); err != nil {
		t.Fatalf("lineage %q: %v", snap.Properties[flow.PropInputs], err)
	}
	wantInputs := []string{"market_intelligence.organizations_v1", "marketing.crm_deals_v1", "marketing.web_traffic_v1", "platform.engagement_daily_v1", "platform.signups_daily_v1", "product.account_usage_daily_v1"}
	if got := slices.Sorted(maps.Keys(read)); !slices.Equal(got, wantInputs) {
		t.Fatalf("revenue_engagement_weekly lineage = %v, want its inputs %v", read, wantInputs)
	}
	for name, snap := range read {
		id, err := port.ParseTableID(name)
		if err != nil {
			t.Fatal(err)
		}
		if cur, _, _ := stores.Ports.Current(ctx, id); cur.ID != snap {
			t.Errorf("lineage says %s snapshot %d was read, the current one is %d", name, snap, cur.ID)
		}
	}
}

// matchTruth is one record of the sandbox's ground truth (its fake.Match, a type
// internal to the sandbox).
type matchTruth struct{ ID, Domain, Company, Variant string }

// truthKeys are the canonical domains a vendor's records name: the HubSpot company
// they derive from, or a stranger's own domain.
func truthKeys(ms []matchTruth) map[string]bool {
	out := map[string]bool{}
	for _, t := range ms {
		if k := truthKey(t); k != "" {
			out[k] = true
		}
	}
	return out
}

func truthKey(m matchTruth) string {
	if m.Company != "" {
		return m.Company
	}
	return globalid.WebDomain(m.Domain)
}

type reportRow struct{ records, withGID, matched, matchedHubSpot, noGID, conflicts int }

// expectedReport is a vendor's report row as the ground truth has it: every record with
// a domain has an id, those derived from a HubSpot company match HubSpot, and a record
// matches another source when HubSpot or the other vendor names its domain. The
// sandbox gives no two records of one vendor the same company.
func expectedReport(ms []matchTruth, hubspot, other map[string]bool) reportRow {
	w := reportRow{records: len(ms)}
	for _, m := range ms {
		k := truthKey(m)
		if k == "" {
			w.noGID++
			continue
		}
		w.withGID++
		if m.Company != "" {
			w.matchedHubSpot++
		}
		if hubspot[k] || other[k] {
			w.matched++
		}
	}
	return w
}

// upstream returns the named products and every product they read, transitively.
func upstream(m mesh.Mesh, names ...string) map[string]bool {
	out := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if out[name] {
			return
		}
		out[name] = true
		_, p, err := m.Find(name)
		if err != nil {
			return
		}
		for _, in := range p.Inputs {
			if !in.IsRaw() {
				visit(in.String())
			}
		}
	}
	for _, n := range names {
		visit(n)
	}
	return out
}

// gids is the set of non-null company_gid values of a port's current snapshot.
func gids(t *testing.T, stores *host.Stores, domain, table string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, g := range readColumnNamed(t, stores, port.TableID{Domain: domain, Name: table}, "company_gid") {
		if g != "" {
			out[g] = true
		}
	}
	return out
}

func readColumnNamed(t *testing.T, stores *host.Stores, id port.TableID, col string) []string {
	t.Helper()
	rows := readRows(t, stores, id)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[col]
	}
	return out
}

// readRows reads a port's current snapshot as text by column name; null is "".
func readRows(t *testing.T, stores *host.Stores, id port.TableID) []map[string]string {
	t.Helper()
	tbl, err := stores.Ports.ReadAll(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []map[string]string
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := map[string]string{}
			for j, f := range rec.Schema().Fields() {
				if c := rec.Column(j); !c.IsNull(i) {
					row[f.Name] = strings.Trim(c.ValueStr(i), `"`)
				}
			}
			out = append(out, row)
		}
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a count: %v", s, err)
	}
	return n
}
