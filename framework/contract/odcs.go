// Package contract writes a product's output port as an Open Data Contract Standard
// (ODCS v3.1.0) document: fundamentals, schema with column docs, quality rules from
// the declared checks, freshness SLA, and who may read it. The declaration in the
// domain's code stays the source of truth; the contract is how other tools see it.
package contract

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
)

// APIVersion is the ODCS version written.
const APIVersion = "v3.1.0"

// Contract is an ODCS data contract (the subset Meshflow fills).
type Contract struct {
	APIVersion    string       `yaml:"apiVersion"`
	Kind          string       `yaml:"kind"`
	ID            string       `yaml:"id"`
	Name          string       `yaml:"name"`
	Version       string       `yaml:"version"`
	Status        string       `yaml:"status"`
	Domain        string       `yaml:"domain"`
	DataProduct   string       `yaml:"dataProduct"`
	Tags          []string     `yaml:"tags,omitempty"`
	Description   Description  `yaml:"description"`
	Schema        []Object     `yaml:"schema"`
	SLAProperties []SLA        `yaml:"slaProperties,omitempty"`
	Team          *Team        `yaml:"team,omitempty"`
	Roles         []Role       `yaml:"roles,omitempty"`
	Custom        []CustomProp `yaml:"customProperties,omitempty"`
}

// Description says what the data is for.
type Description struct {
	Purpose string `yaml:"purpose"`
	Usage   string `yaml:"usage,omitempty"`
}

// Object is the port's table.
type Object struct {
	ID           string     `yaml:"id"`
	Name         string     `yaml:"name"`
	PhysicalName string     `yaml:"physicalName"`
	PhysicalType string     `yaml:"physicalType"`
	LogicalType  string     `yaml:"logicalType"`
	Description  string     `yaml:"description"`
	Properties   []Property `yaml:"properties"`
	Quality      []Rule     `yaml:"quality,omitempty"`
}

// Property is one column.
type Property struct {
	ID                   string   `yaml:"id"`
	Name                 string   `yaml:"name"`
	LogicalType          string   `yaml:"logicalType"`
	PhysicalType         string   `yaml:"physicalType"`
	Description          string   `yaml:"description"`
	Required             bool     `yaml:"required"`
	PrimaryKey           bool     `yaml:"primaryKey"`
	PrimaryKeyPosition   int      `yaml:"primaryKeyPosition"`
	Partitioned          bool     `yaml:"partitioned,omitempty"`
	PartitionKeyPosition int      `yaml:"partitionKeyPosition,omitempty"`
	Classification       string   `yaml:"classification"`
	Tags                 []string `yaml:"tags,omitempty"` // the column's (mesh.Column.Tags)
	Quality              []Rule   `yaml:"quality,omitempty"`
}

// Rule is a quality rule; exactly one operator is set, as ODCS requires.
type Rule struct {
	Name        string         `yaml:"name"`
	Type        string         `yaml:"type"` // library or sql
	Metric      string         `yaml:"metric,omitempty"`
	Query       string         `yaml:"query,omitempty"`
	Arguments   map[string]any `yaml:"arguments,omitempty"`
	Description string         `yaml:"description,omitempty"`
	Dimension   string         `yaml:"dimension,omitempty"`
	Severity    string         `yaml:"severity"`

	MustBe                 *int64  `yaml:"mustBe,omitempty"`
	MustBeGreaterOrEqualTo *int64  `yaml:"mustBeGreaterOrEqualTo,omitempty"`
	MustBeBetween          []int64 `yaml:"mustBeBetween,omitempty"`
}

// SLA is one service-level property.
type SLA struct {
	Property string `yaml:"property"`
	Value    any    `yaml:"value"`
	Unit     string `yaml:"unit,omitempty"`
	Element  string `yaml:"element,omitempty"`
}

// Team owns the product.
type Team struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
}

// Role is a group allowed to read the port.
type Role struct {
	Role        string `yaml:"role"`
	Access      string `yaml:"access"`
	Description string `yaml:"description,omitempty"`
}

// CustomProp carries what ODCS has no field for.
type CustomProp struct {
	Property string `yaml:"property"`
	Value    any    `yaml:"value"`
}

var logicalTypes = map[mesh.ColumnType]string{
	mesh.String: "string", mesh.Int64: "integer", mesh.Float64: "number", mesh.Bool: "boolean",
	mesh.Date: "date", mesh.Timestamp: "timestamp",
}

// Export builds the contract of a product's current major version.
func Export(d mesh.Domain, p mesh.Product) Contract {
	table := p.PortName()
	c := Contract{
		APIVersion: APIVersion, Kind: "DataContract",
		ID:      d.Name + "_" + table,
		Name:    d.Name + "." + table,
		Version: p.Version, Status: "active",
		Domain: d.Name, DataProduct: p.Name, Tags: p.Tags,
		Description: Description{Purpose: p.Description, Usage: strings.Join(p.UseCases, " ")},
		Team:        &Team{Name: p.EffectiveOwner(d), Description: d.Contact},
		SLAProperties: []SLA{
			{Property: "frequency", Value: p.Cadence},
			{Property: "freshness", Value: int64(p.Freshness.FailAfter.Hours()), Unit: "h", Element: freshElement(table, p)},
		},
		Custom: []CustomProp{{Property: "freshnessWarnAfterHours", Value: int64(p.Freshness.WarnAfter.Hours())}},
	}
	var inputs []string
	for _, in := range p.Inputs {
		inputs = append(inputs, in.String())
	}
	c.Custom = append(c.Custom, CustomProp{Property: "inputs", Value: inputs})
	for _, g := range p.AllowedGroups {
		c.Roles = append(c.Roles, Role{Role: g, Access: "read", Description: "may read the " + string(p.Classification) + " port"})
	}

	obj := Object{ID: table, Name: table, PhysicalName: d.Name + "." + table, PhysicalType: "table", LogicalType: "object", Description: p.Summary()}
	pk := map[string]int{}
	for i, k := range p.PrimaryKey {
		pk[k] = i + 1
	}
	for _, col := range p.Schema {
		prop := Property{
			ID: col.Name, Name: col.Name, LogicalType: logicalTypes[col.Type], PhysicalType: string(col.Type),
			Description: col.Doc, Required: col.Required, PrimaryKey: pk[col.Name] > 0, PrimaryKeyPosition: -1,
			Classification: string(p.Classification), Tags: col.Tags,
		}
		if pk[col.Name] > 0 {
			prop.PrimaryKeyPosition = pk[col.Name]
		}
		if col.Name == p.PartitionBy {
			prop.Partitioned, prop.PartitionKeyPosition = true, 1
		}
		obj.Properties = append(obj.Properties, prop)
	}
	byColumn := map[string]int{}
	for i, prop := range obj.Properties {
		byColumn[prop.Name] = i
	}
	for _, ch := range p.AllChecks() {
		r := rule(ch)
		if len(ch.Columns) == 1 && ch.Kind != mesh.KindFreshness {
			i := byColumn[ch.Columns[0]]
			obj.Properties[i].Quality = append(obj.Properties[i].Quality, r)
			continue
		}
		obj.Quality = append(obj.Quality, r)
	}
	c.Schema = []Object{obj}
	return c
}

func freshElement(table string, p mesh.Product) string {
	if p.Freshness.Column == "" {
		return ""
	}
	return table + "." + p.Freshness.Column
}

func ptr(n int64) *int64 { return &n }

// rule maps a check to an ODCS quality rule. Multi-column uniqueness and the checks
// ODCS has no metric for become SQL over ${table}, counting offending rows.
func rule(ch mesh.Check) Rule {
	r := Rule{Name: ch.Name, Type: "library", Description: ch.Doc, Severity: "error"}
	if ch.Severity == mesh.Warn {
		r.Severity = "warning"
	}
	zero := ptr(0)
	switch {
	case ch.Kind == mesh.KindNotNull:
		r.Metric, r.Dimension, r.MustBe = "nullValues", "completeness", zero
	case ch.Kind == mesh.KindUnique && len(ch.Columns) == 1:
		r.Metric, r.Dimension, r.MustBe = "duplicateValues", "uniqueness", zero
	case ch.Kind == mesh.KindAcceptedValues:
		r.Metric, r.Dimension, r.MustBe = "invalidValues", "conformity", zero
		r.Arguments = map[string]any{"validValues": ch.Values}
	case ch.Kind == mesh.KindRowCount:
		r.Metric, r.Dimension = "rowCount", "completeness"
		if ch.Max > 0 {
			r.MustBeBetween = []int64{ch.Min, ch.Max}
		} else {
			r.MustBeGreaterOrEqualTo = ptr(ch.Min)
		}
	case ch.Kind == mesh.KindUnique:
		r.Type, r.Dimension, r.MustBe = "sql", "uniqueness", zero
		r.Query = fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM ${table} GROUP BY %s HAVING count(*) > 1)", strings.Join(ch.Columns, ", "), strings.Join(ch.Columns, ", "))
	case ch.Kind == mesh.KindFreshness:
		r.Type, r.Dimension, r.MustBe = "sql", "timeliness", zero
		r.Query = fmt.Sprintf("SELECT CASE WHEN max(%s) >= now() - INTERVAL '%d hours' THEN 0 ELSE 1 END FROM ${table}", ch.Columns[0], int64(ch.MaxAge.Hours()))
	default: // custom SQL: the rows it selects are the offenders
		r.Type, r.Dimension, r.MustBe = "sql", "accuracy", zero
		r.Query = "SELECT count(*) FROM (" + strings.ReplaceAll(quality.Subquery(ch.SQL), " model", " ${table}") + ")"
	}
	return r
}

// YAML renders the contract.
func (c Contract) YAML() ([]byte, error) {
	return yaml.Marshal(c)
}
