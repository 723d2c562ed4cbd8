package bi

import (
	"strings"
	"testing"

	"github.com/meshflow/meshflow/framework/contract"
	"github.com/meshflow/meshflow/framework/mesh"
)

// The rules of the generated view: time columns become dimension groups named
// without their suffix unless that collides, numbers that are keys, ids or numbers
// get no sum, docs are quoted.
func TestLookMLViewNamesAndTypes(t *testing.T) {
	d := mesh.Domain{Name: "engineering", Owner: "eng"}
	p := mesh.Product{Name: "pulls", Version: "2.1.0", PrimaryKey: []string{"pr_key"}, Schema: []mesh.Column{
		{Name: "pr_key", Type: mesh.String, Doc: `owner/repo#number, "unique"`},
		{Name: "number", Type: mesh.Int64, Doc: "PR number."},
		{Name: "author_id", Type: mesh.Int64},
		{Name: "lead_time_hours", Type: mesh.Float64, Doc: "Hours\nto merge."},
		{Name: "is_merged", Type: mesh.Bool},
		{Name: "created_at", Type: mesh.Timestamp},
		{Name: "merged_at", Type: mesh.Timestamp},
		{Name: "merged_date", Type: mesh.Date}, // "merged" would make merged_date twice
		{Name: "week", Type: mesh.Date},
	}}
	view, fields, err := LookMLView(contract.Export(d, p))
	if err != nil {
		t.Fatal(err)
	}
	s := string(view)
	for _, want := range []string{
		"from the data contract of engineering.pulls_v2 (version 2.1.0)",
		"view: pulls_v2 {\n  sql_table_name: engineering.pulls_v2 ;;",
		`    description: "owner/repo#number, \"unique\""`,
		`    description: "Hours to merge."`,
		"  dimension: is_merged {\n    type: yesno\n",
		"  dimension_group: created {\n    type: time\n    timeframes: [raw, time, date, week, month, quarter, year]\n    sql: ${TABLE}.created_at ;;",
		"  dimension_group: merged_at {",
		"  dimension_group: merged {\n    type: time\n    datatype: date",
		"  dimension_group: week {",
		"  measure: total_lead_time_hours {\n    type: sum\n",
		"    drill_fields: [pr_key]",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("lacks %q:\n%s", want, s)
		}
	}
	for _, unwanted := range []string{"total_number", "total_author_id", "total_pr_key"} {
		if strings.Contains(s, unwanted) {
			t.Errorf("has %s", unwanted)
		}
	}
	if fields != len(p.Schema)+2 { // every column, count, total_lead_time_hours
		t.Errorf("%d fields", fields)
	}
}
