// Package lineage tells an OpenLineage receiver (Marquez, or any service speaking the
// OpenLineage HTTP API) what each product run read and wrote: a START event when a run
// begins, and COMPLETE, FAIL or ABORT when it ends, each naming the run's job, its
// input datasets (raw streams in the lake, other products' ports) and its output (its
// port's Iceberg table), with their schemas, row counts and the column lineage the
// declarations let one derive.
//
// Events are handed to a small Temporal workflow per run (Sender.Emit), which posts
// them in order and retries a receiver that is down until it answers, so an event is
// neither lost nor sent twice by the mesh, and a run never waits for the receiver.
package lineage

import (
	"time"

	"github.com/google/uuid"
)

// EventType is a run's transition (OpenLineage's RunEvent.eventType).
type EventType string

const (
	Start    EventType = "START"
	Complete EventType = "COMPLETE"
	Fail     EventType = "FAIL"
	Abort    EventType = "ABORT"
)

// Ends reports whether t is a run's last event.
func (t EventType) Ends() bool { return t == Complete || t == Fail || t == Abort }

// The schema URLs the events and facets name: the versions of the OpenLineage spec
// they follow.
const (
	SchemaURL                 = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	schemaFacetURL            = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	dataSourceFacetURL        = "https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet"
	columnLineageFacetURL     = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
	versionFacetURL           = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	inputStatisticsFacetURL   = "https://openlineage.io/spec/facets/1-0-0/InputStatisticsInputDatasetFacet.json#/$defs/InputStatisticsInputDatasetFacet"
	outputStatisticsFacetURL  = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	errorMessageFacetURL      = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	jobTypeFacetURL           = "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	documentationFacetURL     = "https://openlineage.io/spec/facets/1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet"
	ownershipFacetURL         = "https://openlineage.io/spec/facets/1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet"
	sqlFacetURL               = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
	DefaultProducer           = "https://github.com/meshflow/meshflow"
	DefaultNamespace          = "meshflow"
	integration               = "MESHFLOW"
	jobTypeProduct            = "DATA_PRODUCT"
	processingBatch           = "BATCH"
	programmingLanguage       = "GO"
	transformationDirect      = "DIRECT"
	transformationDescription = "a port column of the same name as a column of only this input (matched by name; the model may transform it)"
)

// RunEvent is an OpenLineage run event, as it is posted.
type RunEvent struct {
	EventTime time.Time       `json:"eventTime"`
	Producer  string          `json:"producer"`
	SchemaURL string          `json:"schemaURL"`
	EventType EventType       `json:"eventType"`
	Run       Run             `json:"run"`
	Job       Job             `json:"job"`
	Inputs    []InputDataset  `json:"inputs"`
	Outputs   []OutputDataset `json:"outputs"`
}

// Run is the run an event is about.
type Run struct {
	RunID  string     `json:"runId"`
	Facets *RunFacets `json:"facets,omitempty"`
}

// RunFacets are what an event says of its run.
type RunFacets struct {
	ErrorMessage *ErrorMessageFacet `json:"errorMessage,omitempty"`
}

// ErrorMessageFacet is why a run failed.
type ErrorMessageFacet struct {
	BaseFacet
	Message             string `json:"message"`
	ProgrammingLanguage string `json:"programmingLanguage"`
}

// Job is the product a run computes.
type Job struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	Facets    *JobFacets `json:"facets,omitempty"`
}

// JobFacets say what kind of job a product is.
type JobFacets struct {
	JobType *JobTypeFacet `json:"jobType,omitempty"`
	SQL     *SQLFacet     `json:"sql,omitempty"`
}

// SQLFacet is the product's model.
type SQLFacet struct {
	BaseFacet
	Query   string `json:"query"`
	Dialect string `json:"dialect,omitempty"`
}

// JobTypeFacet: a product run is a batch job of Meshflow's.
type JobTypeFacet struct {
	BaseFacet
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType"`
}

// Dataset is a dataset a run reads or writes.
type Dataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    *DatasetFacets `json:"facets,omitempty"`
}

// InputDataset is a dataset a run reads.
type InputDataset struct {
	Dataset
	InputFacets *InputFacets `json:"inputFacets,omitempty"`
}

// OutputDataset is a dataset a run writes.
type OutputDataset struct {
	Dataset
	OutputFacets *OutputFacets `json:"outputFacets,omitempty"`
}

// DatasetFacets are what an event says of a dataset.
type DatasetFacets struct {
	Schema        *SchemaFacet        `json:"schema,omitempty"`
	DataSource    *DataSourceFacet    `json:"dataSource,omitempty"`
	Documentation *DocumentationFacet `json:"documentation,omitempty"`
	Ownership     *OwnershipFacet     `json:"ownership,omitempty"`
	ColumnLineage *ColumnLineageFacet `json:"columnLineage,omitempty"`
	Version       *VersionFacet       `json:"version,omitempty"`
}

// InputFacets are what an event says of what a run read of a dataset.
type InputFacets struct {
	InputStatistics *StatisticsFacet `json:"inputStatistics,omitempty"`
}

// OutputFacets are what an event says of what a run wrote to a dataset.
type OutputFacets struct {
	OutputStatistics *StatisticsFacet `json:"outputStatistics,omitempty"`
}

// BaseFacet is what every facet carries: who wrote it, and the schema it follows.
type BaseFacet struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

// SchemaFacet lists a dataset's columns.
type SchemaFacet struct {
	BaseFacet
	Fields []SchemaField `json:"fields"`
}

// SchemaField is one column.
type SchemaField struct {
	Name            string `json:"name"`
	Type            string `json:"type,omitempty"`
	Description     string `json:"description,omitempty"`
	OrdinalPosition int    `json:"ordinal_position,omitempty"`
}

// DataSourceFacet is where a dataset is kept: the lake, or the ports' warehouse.
type DataSourceFacet struct {
	BaseFacet
	Name string `json:"name"`
	URI  string `json:"uri,omitempty"`
}

// DocumentationFacet is a product's description.
type DocumentationFacet struct {
	BaseFacet
	Description string `json:"description"`
}

// OwnershipFacet names the team that owns a port.
type OwnershipFacet struct {
	BaseFacet
	Owners []Owner `json:"owners"`
}

// Owner is one owner, as a URN ("team:marketing-analytics").
type Owner struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// VersionFacet is the version of a dataset a run wrote: the port's snapshot id.
type VersionFacet struct {
	BaseFacet
	DatasetVersion string `json:"datasetVersion"`
}

// StatisticsFacet counts the rows a run read or wrote.
type StatisticsFacet struct {
	BaseFacet
	RowCount int64 `json:"rowCount"`
}

// ColumnLineageFacet maps each output column to the input columns it comes from.
type ColumnLineageFacet struct {
	BaseFacet
	Fields map[string]ColumnInputs `json:"fields"`
}

// ColumnInputs are the input columns one output column comes from.
type ColumnInputs struct {
	InputFields []InputField `json:"inputFields"`
}

// InputField is one input column.
type InputField struct {
	Namespace       string           `json:"namespace"`
	Name            string           `json:"name"`
	Field           string           `json:"field"`
	Transformations []Transformation `json:"transformations,omitempty"`
}

// Transformation says how an input column makes an output column.
type Transformation struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// RunID is the OpenLineage run id of a Temporal workflow run: a UUID (version 5) of its
// workflow id and run id, so every attempt and every worker names the run alike.
func RunID(workflowID, runID string) string {
	return uuid.NewSHA1(runNamespace, []byte(workflowID+"\x00"+runID)).String()
}

// runNamespace is the UUID namespace of RunID (a version 5 UUID of Meshflow's URL in
// the URL namespace).
var runNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(DefaultProducer))
