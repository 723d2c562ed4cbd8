package catalog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/port"
	"github.com/meshflow/meshflow/framework/port/porttest"
)

// The internal sales.leads with a column of e-mail addresses and one of names, tagged
// as personal data, and a free tag; its rows published.
func leadsWithPersonalData(t *testing.T) *accessFixture {
	t.Helper()
	f := newAccessFixture(t)
	m := restrictedMesh()
	leads := &m.Domains[0].Products[1]
	leads.Schema = []mesh.Column{{Name: "lead_id", Type: mesh.String, Doc: "the lead id", Tags: []string{"lead-id"}},
		{Name: "email", Type: mesh.String, Doc: "the lead's address", Tags: mesh.PII(mesh.TagEmail)},
		{Name: "full_name", Type: mesh.String, Doc: "as entered", Tags: mesh.PII(mesh.TagName)}}
	f.cat.Mesh = m
	sc := arrow.NewSchema([]arrow.Field{{Name: "lead_id", Type: arrow.BinaryTypes.String}, {Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "full_name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	porttest.PublishJSON(t, f.cat.Ports, port.PortTable("sales", "leads", 1), sc, `[{"lead_id": "l1", "email": "ada.lovelace@example.com", "full_name": "Ada Lovelace"}, {"lead_id": "l2", "email": null, "full_name": "Nameless Ned"}]`, port.PublishRequest{Mode: port.Replace{}})
	return f
}

// Columns tagged as personal data are masked in an internal port's sample rows for an
// anonymous visitor and for a caller who may read no restricted port, and shown to a
// caller who may read one; the page says which columns are masked and how to see them.
func TestPersonalDataIsMaskedForCallersWithoutRestrictedAccess(t *testing.T) {
	f := leadsWithPersonalData(t)
	personal := []string{"ada.lovelace@example.com", "Ada Lovelace", "Nameless Ned"}
	for _, tc := range []struct{ who, token string }{{"anonymous", ""}, {"web-analyst (no restricted port)", mktToken}} {
		resp, page := f.do(t, "GET", "/products/sales.leads", tc.token, nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(page, "Personal data masked (email, full_name)") || strings.Count(page, "<td>"+Mask+"</td>") != 3 ||
			!strings.Contains(page, "<td>l1</td>") {
			t.Errorf("%s: product page %d does not mask the personal data:\n%s", tc.who, resp.StatusCode, page)
		}
		_, api := f.do(t, "GET", "/api/products/sales.leads", tc.token, nil, nil)
		var det Detail
		if err := json.Unmarshal([]byte(api), &det); err != nil {
			t.Fatal(err)
		}
		if strings.Join(det.Sample.Masked, ",") != "email,full_name" || len(det.Sample.Rows) != 2 {
			t.Errorf("%s: API sample %+v", tc.who, det.Sample)
		}
		for _, v := range personal {
			if strings.Contains(page, v) || strings.Contains(api, v) {
				t.Errorf("%s sees %q", tc.who, v)
			}
		}
	}
	_, page := f.do(t, "GET", "/products/sales.leads", salesToken, nil, nil)
	for _, v := range personal {
		if !strings.Contains(page, v) {
			t.Errorf("sales-analyst, who reads the restricted sales.deals, does not see %q", v)
		}
	}
	if strings.Contains(page, "Personal data masked") {
		t.Errorf("sales-analyst is told the data is masked")
	}
	if !strings.Contains(page, `<a class="tag" href="/tags/email">email</a>`) {
		t.Errorf("the schema does not link the column's tags")
	}
}

// /tags/{tag} lists every column carrying a tag across the mesh; search finds products
// by column names and docs and answers an empty JSON list, never null.
func TestTagsAndColumnSearch(t *testing.T) {
	f := leadsWithPersonalData(t)
	resp, page := f.do(t, "GET", "/tags/email", "", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `<a href="/products/sales.leads">sales.leads</a></td><td><code>email</code>`) || !strings.Contains(page, "(personal data)") {
		t.Errorf("/tags/email %d:\n%s", resp.StatusCode, page)
	}
	_, body := f.do(t, "GET", "/api/tags", "", nil, nil)
	var tags []Tag
	if err := json.Unmarshal([]byte(body), &tags); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range tags {
		names = append(names, tg.Name)
	}
	if strings.Join(names, ",") != "email,lead-id,name,pii" || tags[3].Columns[1].Column != "full_name" || tags[1].Sensitive {
		t.Errorf("/api/tags = %+v", tags)
	}
	if resp, body := f.do(t, "GET", "/api/tags/nope", "", nil, nil); resp.StatusCode != 404 || !strings.Contains(body, `no column is tagged \"nope\"`) {
		t.Errorf("an unknown tag: %d %s", resp.StatusCode, body)
	}

	_, body = f.do(t, "GET", "/api/products?q=full_name", "", nil, nil)
	var found []Status
	if err := json.Unmarshal([]byte(body), &found); err != nil || len(found) != 1 || found[0].Name != "leads" {
		t.Errorf("search by a column name: %s", body)
	}
	_, body = f.do(t, "GET", "/api/products?q=address", "", nil, nil)
	if err := json.Unmarshal([]byte(body), &found); err != nil || len(found) != 1 || found[0].Name != "leads" {
		t.Errorf("search by a column doc: %s", body)
	}
	if _, body = f.do(t, "GET", "/api/products?q=nothing-matches-this", "", nil, nil); strings.TrimSpace(body) != "[]" {
		t.Errorf("a search matching nothing answers %q, want []", body)
	}
}
