package lineage

import (
	"slices"
	"strconv"
	"time"
)

// RunInfo is one product run as its events describe it. The caller fills in what it
// knows; what it leaves zero is left out of the events.
type RunInfo struct {
	Namespace string // the job's namespace [DefaultNamespace]
	Producer  string // the producer URI [DefaultProducer]
	// Domain and Product name the job: <domain>.<product>.
	Domain, Product string
	Description     string // the product's, on its output
	Owner           string // the owning team, on its output (team:<owner>)
	Model           string // the model's SQL, on its job
	// WorkflowID and RunID are the Temporal run's (see RunID).
	WorkflowID, RunID string
	Inputs            []DatasetInfo
	Output            DatasetInfo
	// Error is why the run failed (FAIL, ABORT).
	Error string
}

// DatasetInfo is a dataset a run reads or writes, as the caller knows it.
type DatasetInfo struct {
	Namespace, Name string
	Source          DataSource // where it is kept ("" Name = left out)
	Columns         []Column   // nil = unknown
	// Rows is how many rows the run read (an input: the rows landed; known only once
	// the run ended) or wrote (the output); nil = unknown.
	Rows *int64
	// Version is the version the run read (an input's snapshot) or wrote (the output's
	// snapshot id, on COMPLETE); "" = none.
	Version string
}

// DataSource is where datasets are kept: the lake, the ports' warehouse.
type DataSource struct{ Name, URI string }

// Namespace is the namespace of the datasets kept in d: its URI, else its name.
func (d DataSource) Namespace() string {
	if d.URI != "" {
		return d.URI
	}
	return d.Name
}

// Column is one column of a dataset.
type Column struct{ Name, Type, Doc string }

// Event is the run's event of type t at at.
func (r RunInfo) Event(t EventType, at time.Time) RunEvent {
	producer := r.Producer
	if producer == "" {
		producer = DefaultProducer
	}
	ns := r.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	base := func(schemaURL string) BaseFacet { return BaseFacet{Producer: producer, SchemaURL: schemaURL} }
	ev := RunEvent{
		EventTime: at.UTC(), Producer: producer, SchemaURL: SchemaURL, EventType: t,
		Run: Run{RunID: RunID(r.WorkflowID, r.RunID)},
		Job: Job{Namespace: ns, Name: r.Domain + "." + r.Product, Facets: &JobFacets{
			JobType: &JobTypeFacet{BaseFacet: base(jobTypeFacetURL), ProcessingType: processingBatch, Integration: integration, JobType: jobTypeProduct},
		}},
		Inputs: []InputDataset{}, Outputs: []OutputDataset{},
	}
	if r.Model != "" {
		ev.Job.Facets.SQL = &SQLFacet{BaseFacet: base(sqlFacetURL), Query: r.Model, Dialect: "duckdb"}
	}
	if (t == Fail || t == Abort) && r.Error != "" {
		ev.Run.Facets = &RunFacets{ErrorMessage: &ErrorMessageFacet{BaseFacet: base(errorMessageFacetURL), Message: r.Error, ProgrammingLanguage: programmingLanguage}}
	}
	dataset := func(d DatasetInfo) Dataset {
		f := &DatasetFacets{}
		if d.Columns != nil {
			f.Schema = &SchemaFacet{BaseFacet: base(schemaFacetURL), Fields: make([]SchemaField, len(d.Columns))}
			for i, c := range d.Columns {
				f.Schema.Fields[i] = SchemaField{Name: c.Name, Type: c.Type, Description: c.Doc, OrdinalPosition: i + 1}
			}
		}
		if d.Source.Name != "" {
			f.DataSource = &DataSourceFacet{BaseFacet: base(dataSourceFacetURL), Name: d.Source.Name, URI: d.Source.URI}
		}
		return Dataset{Namespace: d.Namespace, Name: d.Name, Facets: f}
	}
	for _, in := range r.Inputs {
		ds := InputDataset{Dataset: dataset(in)}
		if in.Version != "" {
			ds.Facets.Version = &VersionFacet{BaseFacet: base(versionFacetURL), DatasetVersion: in.Version}
		}
		if in.Rows != nil && t.Ends() {
			ds.InputFacets = &InputFacets{InputStatistics: &StatisticsFacet{BaseFacet: base(inputStatisticsFacetURL), RowCount: *in.Rows}}
		}
		ev.Inputs = append(ev.Inputs, ds)
	}
	out := OutputDataset{Dataset: dataset(r.Output)}
	f := out.Facets
	if r.Description != "" {
		f.Documentation = &DocumentationFacet{BaseFacet: base(documentationFacetURL), Description: r.Description}
	}
	if r.Owner != "" {
		f.Ownership = &OwnershipFacet{BaseFacet: base(ownershipFacetURL), Owners: []Owner{{Name: "team:" + r.Owner, Type: "OWNER"}}}
	}
	if cl := r.columnLineage(); len(cl) > 0 {
		f.ColumnLineage = &ColumnLineageFacet{BaseFacet: base(columnLineageFacetURL), Fields: cl}
	}
	if t == Complete {
		if r.Output.Version != "" {
			f.Version = &VersionFacet{BaseFacet: base(versionFacetURL), DatasetVersion: r.Output.Version}
		}
		if r.Output.Rows != nil {
			out.OutputFacets = &OutputFacets{OutputStatistics: &StatisticsFacet{BaseFacet: base(outputStatisticsFacetURL), RowCount: *r.Output.Rows}}
		}
	}
	ev.Outputs = append(ev.Outputs, out)
	return ev
}

// columnLineage is the column lineage the declarations let one derive without reading
// the model: an output column maps to the column of the same name of the one input
// that has a column of that name. A column the model renames, computes from several
// columns, or that several inputs have, is left out: only the model's SQL says where
// it comes from. (The mapping is by name: the model may still transform the value.)
func (r RunInfo) columnLineage() map[string]ColumnInputs {
	out := map[string]ColumnInputs{}
	for _, c := range r.Output.Columns {
		var from []InputField
		for _, in := range r.Inputs {
			if slices.ContainsFunc(in.Columns, func(ic Column) bool { return ic.Name == c.Name }) {
				from = append(from, InputField{Namespace: in.Namespace, Name: in.Name, Field: c.Name,
					Transformations: []Transformation{{Type: transformationDirect, Description: transformationDescription}}})
			}
		}
		if len(from) == 1 {
			out[c.Name] = ColumnInputs{InputFields: from}
		}
	}
	return out
}

// Rows is n as a known row count.
func Rows(n int64) *int64 { return &n }

// Version is a snapshot id as a dataset version.
func Version(snapshotID int64) string {
	if snapshotID == 0 {
		return ""
	}
	return strconv.FormatInt(snapshotID, 10)
}
