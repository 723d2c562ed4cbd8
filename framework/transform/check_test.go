package transform

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/source"
)

// crm is a connector declaring one stream, as a registry would.
var crm = source.Connector{Name: "crm", Streams: []source.StreamSpec{{Name: "deals", PrimaryKey: []string{"id"}, CursorField: "updated_at",
	Fields: []source.Field{{Name: "id", Type: source.String}, {Name: "amount", Type: source.Float64}, {Name: "stage", Type: source.String},
		{Name: "updated_at", Type: source.Timestamp}, {Name: "epoch", Type: source.Int64}, {Name: "closed", Type: source.String}}}}}

func checkedProduct(name, model string, schema ...mesh.Column) mesh.Product {
	return mesh.Product{Name: name, Description: "A product.", Version: "1.0.0", Inputs: []mesh.Input{mesh.Raw("crm", "deals")},
		Model: model, Schema: schema, PrimaryKey: []string{schema[0].Name}, Cadence: "@daily", Classification: mesh.Internal,
		Freshness: mesh.Freshness{WarnAfter: time.Hour, FailAfter: 2 * time.Hour}}
}

var (
	idCol = mesh.Column{Name: "id", Type: mesh.String, Doc: "id"}
	atCol = mesh.Column{Name: "at", Type: mesh.Timestamp, Doc: "at"}
)

// Each kind of mistake a domain team makes in a model is found without running it,
// named with its file and line, with a fix that fits the mistake.
func TestCheckFindsEachMistake(t *testing.T) {
	files := fstest.MapFS{
		"models/syntax.sql":  {Data: []byte("-- deals\nSELECT id,\n  amount\nFORM crm.deals\n")},
		"models/column.sql":  {Data: []byte("SELECT id,\n  amount_usd AS amount\nFROM crm.deals")},
		"models/orphan.sql":  {Data: []byte("SELECT 1 AS id")},
		"models/nowtz.sql":   {Data: []byte("SELECT id,\n  now() AS at\nFROM crm.deals")},
		"models/truncd.sql":  {Data: []byte("SELECT id,\n  date_trunc('week', to_timestamp(epoch)) AS at\nFROM crm.deals")},
		"models/casttz.sql":  {Data: []byte("SELECT id,\n  CAST(updated_at AS TIMESTAMPTZ) AS at\nFROM crm.deals")},
		"models/epochtz.sql": {Data: []byte("SELECT id, to_timestamp(epoch) AS at FROM crm.deals")},
	}
	read := func(name string) string { return string(files["models/"+name+".sql"].Data) }
	amount := mesh.Column{Name: "amount", Type: mesh.Float64, Doc: "amount"}
	dom := mesh.Domain{Name: "sales", Owner: "sales-ops", Files: files, Products: []mesh.Product{
		checkedProduct("syntax", read("syntax"), idCol, amount),
		checkedProduct("column", read("column"), idCol, amount),
		checkedProduct("nowtz", read("nowtz"), idCol, atCol),
		checkedProduct("truncd", read("truncd"), idCol, atCol),
		checkedProduct("casttz", read("casttz"), idCol, atCol),
		checkedProduct("epochtz", read("epochtz"), idCol, atCol),
		func() mesh.Product {
			p := checkedProduct("typo", "SELECT id FROM crm.dealz", idCol)
			p.Inputs = []mesh.Input{mesh.Raw("crm", "dealz")}
			return p
		}(),
		checkedProduct("unlisted", "SELECT d.id FROM crm.deals AS d JOIN sales.syntax AS s USING (id)", idCol),
		checkedProduct("schema", "SELECT id, stage, amount AS n FROM crm.deals", idCol, mesh.Column{Name: "missing", Type: mesh.Date, Doc: "m"}, mesh.Column{Name: "n", Type: mesh.Int64, Doc: "n"}),
		checkedProduct("types", "SELECT id, closed AS n, updated_at AS d FROM crm.deals", idCol, mesh.Column{Name: "n", Type: mesh.Int64, Doc: "n"}, mesh.Column{Name: "d", Type: mesh.Date, Doc: "d"}),
		func() mesh.Product {
			p := checkedProduct("badcheck", "SELECT id, NULL AS stage FROM crm.deals", idCol, mesh.Column{Name: "stage", Type: mesh.String, Doc: "s"})
			p.Checks = []mesh.Check{mesh.SQL("no_lost", "SELECT * FROM model WHERE stag = 'lost'")}
			return p
		}(),
	}}
	problems, err := CheckMesh(t.Context(), mesh.Mesh{Domains: []mesh.Domain{dom}}, []source.Connector{crm})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		`models/syntax.sql:4 (sales.syntax): the model does not compile: Parser Error: syntax error at or near "crm"`,
		`models/column.sql:2 (sales.column): the model does not compile: Binder Error: Referenced column "amount_usd" not found in FROM clause!`,
		`models/orphan.sql (sales): no product of domain sales has this file as its model`,
		`sales.typo: input crm.dealz: crm declares no stream "dealz" — did you mean "deals"? (its streams: deals)`,
		`sales.unlisted: the model reads sales.syntax, which is not among the product's inputs: add mesh.FromProduct("sales", "syntax") to unlisted's Inputs`,
		`sales.schema: column "missing" is declared (DATE) but the model does not select it`,
		`sales.schema: the model selects "stage" (VARCHAR), which the schema does not declare`,
		`sales.schema: column "n" is DOUBLE in the model but declared BIGINT: storing it drops the fraction`,
		`sales.types: column "n" is VARCHAR in the model but declared BIGINT: the cast fails at run time on any value that is not a number`,
		`sales.types: column "d" is TIMESTAMP in the model but declared DATE: storing it drops the time of day`,
		`sales.badcheck: check no_lost does not compile over the declared schema (the table "model"): Binder Error: Referenced column "stag" not found`,
		`Candidate bindings: "stage"`,
		"models/nowtz.sql:2 (sales.nowtz): column \"at\" is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone: now() is when the run happens",
		"models/truncd.sql:2 (sales.truncd): column \"at\" is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone: truncate the UTC time, so days and weeks begin at UTC midnight whatever the session's zone — `date_trunc('week', to_timestamp(epoch) AT TIME ZONE 'UTC') AS at`",
		"models/casttz.sql:2 (sales.casttz): column \"at\" is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone: updated_at is already a UTC timestamp, so the cast only adds a zone — select `updated_at AS at`",
		"models/epochtz.sql:1 (sales.epochtz): column \"at\" is TIMESTAMP WITH TIME ZONE, but port timestamps are UTC without a zone: to_timestamp(epoch) is an instant; write it as UTC with `to_timestamp(epoch) AT TIME ZONE 'UTC' AS at`",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem says\n  %s\nproblems:\n%s", want, got)
		}
	}
	if strings.Contains(got, "sales.badcheck: column") {
		t.Errorf("a NULL column fits any declared type:\n%s", got)
	}
	if strings.Contains(got, "sales.typo: the model") || strings.Contains(got, "sales: product") {
		t.Errorf("an undeclared input is said once, and the fixture's declarations are valid:\n%s", got)
	}
}
