// Package mesh is the vocabulary a domain team uses to declare its data products:
// who owns them, what they mean, what they read, how they are checked and how fresh
// they must be. Declarations are plain values; the framework validates them once at
// start-up and everything else (workflows, catalog, contracts) is derived from them.
package mesh

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Domain is a business domain: a folder domains/<name>/ owned by one team.
type Domain struct {
	Name        string // lower_snake, e.g. "marketing"
	Owner       string // the owning team, e.g. "marketing-analytics"
	Contact     string // where consumers ask questions (e-mail, chat channel)
	Alerts      Alerts // its products' alert rules unless a product changes them; zero = the framework's
	Description string
	Products    []Product
	// Sources are connectors this domain alone uses, kept in its own folder (a spec
	// file or Go code) and registered here rather than in the connectors' registry.
	Sources []source.Connector `json:"-"`
	// Register adds the domain's own workflows and activities to its worker, beside
	// RunProduct and Backfill on its task queue (nil = none): a step SQL cannot
	// express, an export of a port to a team's tool. flow.Framework(r) gives them the
	// framework's activities (lake, ports, connectors) to build on; they follow the
	// same replay rules as the framework's (see README, "A domain's own workflows").
	Register func(r Registry) `json:"-"`
	// Files are the domain folder's files the build embeds (at least models/), so
	// `mesh check` can name the file and line of a model's error and find a .sql file
	// no product uses: `//go:embed models` in the domain's package. nil = unknown.
	Files fs.FS `json:"-"`
}

// Registry is the worker a domain registers its own workflows and activities on.
// Temporal's worker.Worker is one.
type Registry interface {
	RegisterWorkflow(w any)
	RegisterActivity(a any)
}

// TaskQueue is the Temporal task queue the domain's workers poll.
func (d Domain) TaskQueue() string { return "meshflow." + d.Name }

// Product is a data product and its one output port.
type Product struct {
	Name        string // lower_snake, unique within the domain, e.g. "crm_contacts"
	Description string // the first sentence is the one-line summary in listings
	UseCases    []string
	Owner       string // defaults to the domain's owner
	Tags        []string
	Alerts      Alerts // changes to its domain's alert rules; zero = the domain's

	// Version is the port's semantic version. The major number names the Iceberg
	// table (<product>_v<major>); minor and patch versions evolve it in place.
	Version string

	Inputs []Input // raw streams and other products this one is computed from
	// Model is the SQL SELECT that computes the port, run in DuckDB. Raw inputs are
	// views named <source>.<stream> (current version of each record) and
	// <source>.<stream>_history (every landed version); product inputs are
	// <domain>.<product>.
	Model string

	Schema         []Column
	PrimaryKey     []string
	Classification Classification
	AllowedGroups  []string // who may read restricted ports

	Checks    []Check
	Freshness Freshness
	// Cadence is the cron expression (or @hourly/@daily/@weekly, UTC) of the product's
	// schedule, for a product run on its cadence (see Trigger).
	Cadence string
	// Trigger says what starts its runs; the zero value is the default (see Trigger).
	Trigger Trigger

	// Tests are unit tests of the model: rows given for its inputs and the rows
	// expected of them (see ModelTest). `mesh test` runs them.
	Tests []ModelTest `json:"-"`

	// PartitionBy names a DATE column of the schema that splits the port into day
	// partitions. A run for one partition (a backfill day, a late re-pull) keeps only
	// the model's rows of that day and replaces only that day's rows in the port, so
	// re-running it never duplicates. "" = the product is always computed whole.
	PartitionBy string

	// Incremental, when set, makes a run recompute only the records of one input that
	// changed since the last publish and merge their rows into the port by key (see
	// Incremental). nil = every run computes the whole port.
	Incremental *Incremental `json:",omitempty"`

	// Retention says how long the port's old snapshots stay readable before table
	// maintenance expires them; zero = 30 days and at least the last 10.
	Retention Retention `json:",omitzero"`

	// Legacy lists earlier major versions still published beside this one until their
	// sunset day (see Legacy). Empty for a product that never broke its contract.
	Legacy []Legacy
	// Deprecation is set on the variants Majors returns for legacy majors; domain code
	// leaves it nil.
	Deprecation *Deprecation
}

// Input is something a product reads.
type Input struct {
	Source, Stream  string // a raw stream landed from a connector, or
	Domain, Product string // another product's port
	// SamePartition: a partition run of the product reads only the landings of its own
	// partition (and unpartitioned ones) of this raw stream. See RawSamePartition.
	SamePartition bool
}

// Raw names a raw stream input. A run reads every landing of it.
func Raw(source, stream string) Input { return Input{Source: source, Stream: stream} }

// RawSamePartition names a raw stream whose rows for a partition arrive only in that
// partition's landings (a GA4 report of one day, Pendo's events of one day). A partition
// run of a partitioned product then reads only those landings, plus the stream's
// unpartitioned ones, instead of the stream's whole history: a backfill's later days
// cost what its first days did. Use it only when the model computes a partition's rows
// from that partition's raw rows alone; a rolling window over earlier days needs Raw.
func RawSamePartition(source, stream string) Input {
	return Input{Source: source, Stream: stream, SamePartition: true}
}

// FromProduct names another product's port as an input.
func FromProduct(domain, product string) Input { return Input{Domain: domain, Product: product} }

// IsRaw reports whether the input is a landed source stream.
func (in Input) IsRaw() bool { return in.Source != "" }

func (in Input) String() string {
	if in.IsRaw() {
		return in.Source + "." + in.Stream
	}
	return in.Domain + "." + in.Product
}

// Column is one column of a port's schema.
type Column struct {
	Name     string
	Type     ColumnType
	Doc      string
	Required bool // not null; enforced by an implicit not-null check
	// Tags say what the column holds, lower-case: the sensitive ones (TagPII, TagEmail,
	// TagName) make the catalog mask its values for callers without access to
	// restricted data; free tags ("currency", "gid") only help consumers find columns.
	// The catalog lists where each tag appears across the mesh.
	Tags []string
}

// The tags of personal data. A column carrying one is masked in the catalog's sample
// and failing rows for a caller who may read no restricted port (Column.Sensitive):
// an internal port's e-mail addresses are not for anonymous visitors.
const (
	TagPII   = "pii"
	TagEmail = "email" // an e-mail address; personal data
	TagName  = "name"  // a person's name; personal data
)

// Sensitive reports whether the column holds personal data: one of its tags is
// TagPII, TagEmail or TagName.
func (c Column) Sensitive() bool {
	for _, t := range c.Tags {
		if t == TagPII || t == TagEmail || t == TagName {
			return true
		}
	}
	return false
}

// PII tags a column as personal data of the kinds given (TagEmail, TagName, or none
// for other personal data): Tags with TagPII and those.
func PII(kinds ...string) []string { return append([]string{TagPII}, kinds...) }

// ColumnType is a port column type, named as in DuckDB SQL.
type ColumnType string

const (
	String    ColumnType = "VARCHAR"
	Int64     ColumnType = "BIGINT"
	Float64   ColumnType = "DOUBLE"
	Bool      ColumnType = "BOOLEAN"
	Date      ColumnType = "DATE"
	Timestamp ColumnType = "TIMESTAMP" // always UTC, stored without a zone (see ARCHITECTURE: TZ-aware bucketing is slow)
)

var columnTypes = map[ColumnType]bool{String: true, Int64: true, Float64: true, Bool: true, Date: true, Timestamp: true}

// Classification says who may read a port.
type Classification string

const (
	Public     Classification = "public"
	Internal   Classification = "internal"
	Restricted Classification = "restricted"
)

// Freshness is a product's freshness SLO. A product is fresh while its last publish is
// younger than WarnAfter, late until FailAfter, then stale.
type Freshness struct {
	Column    string        // the data-time column whose maximum is the data watermark
	WarnAfter time.Duration //
	FailAfter time.Duration //
}

// Status is a freshness or quality state.
type Status string

const (
	StatusPass    Status = "pass"
	StatusWarn    Status = "warn"
	StatusFail    Status = "fail"
	StatusUnknown Status = "unknown"
)

// At classifies a product last published at publishedAt, seen at now.
func (f Freshness) At(publishedAt, now time.Time) Status {
	if publishedAt.IsZero() {
		return StatusUnknown
	}
	age := now.Sub(publishedAt)
	switch {
	case f.FailAfter > 0 && age > f.FailAfter:
		return StatusFail
	case f.WarnAfter > 0 && age > f.WarnAfter:
		return StatusWarn
	}
	return StatusPass
}

// Major returns the major number of the product's version.
func (p Product) Major() int {
	n, _ := strconv.Atoi(strings.SplitN(p.Version, ".", 2)[0])
	return n
}

// PortName is the name of the port's table for the current major version.
func (p Product) PortName() string { return fmt.Sprintf("%s_v%d", p.Name, p.Major()) }

// Summary is the first sentence of the description.
func (p Product) Summary() string {
	d := strings.TrimSpace(p.Description)
	if i := strings.Index(d, ". "); i >= 0 {
		return d[:i+1]
	}
	return d
}

// Column returns the named column.
func (p Product) Column(name string) (Column, bool) {
	for _, c := range p.Schema {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// PartitionLayout is the form of a day partition: YYYY-MM-DD.
const PartitionLayout = "2006-01-02"

// ValidatePartition says whether partition can be run for p: "" always can (the whole
// product); a day needs a partitioned product and a real YYYY-MM-DD date, which also
// makes it safe to quote into SQL.
func (p Product) ValidatePartition(partition string) error {
	if partition == "" {
		return nil
	}
	op := "partition " + p.Name
	if p.PartitionBy == "" {
		return errs.Errorf(errs.Invalid, op, "%s is not partitioned, so it cannot run partition %q: run it without a partition, or declare PartitionBy (a DATE column) on it", p.Name, partition)
	}
	if _, err := time.Parse(PartitionLayout, partition); err != nil {
		return errs.Errorf(errs.Invalid, op, "partition %q is not a day in the form YYYY-MM-DD", partition)
	}
	return nil
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	tagRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)
