// Package source is the small driver interface every connector implements, and the one
// concrete Reader that drives it: paging, pacing, retries and cancellation live here
// once, so a connector only knows how to fetch one page of its API.
//
// A connector knows nothing of Temporal, Arrow or the lake. It returns raw JSON records
// as the API sent them and an opaque cursor that says where to resume.
package source

import (
	"context"
	"encoding/json"
	"time"
)

// Type is the type of a typed column extracted from a raw record.
type Type string

const (
	String    Type = "string"
	Int64     Type = "int64"
	Float64   Type = "float64"
	Bool      Type = "bool"
	Timestamp Type = "timestamp" // UTC, microseconds; parsed from RFC 3339 strings or epoch milliseconds
	Date      Type = "date"
)

// Field is one typed column of a stream, extracted from each raw record at Path.
// Values arrive as JSON strings, numbers or booleans; the landing converts them to
// Type (HubSpot sends every property as a string, so "42" is a valid Int64).
type Field struct {
	Name string   // column name in the raw table, snake_case
	Type Type     //
	Path []string // JSON object keys from the record root, e.g. {"properties", "email"}
	Doc  string   // what the column means, shown in the catalog
}

// StreamSpec describes a stream: its typed columns, identity and cursor.
type StreamSpec struct {
	Name        string   // e.g. "contacts"; unique within its source
	Fields      []Field  // typed columns; the raw record is always kept too
	PrimaryKey  []string // Field names identifying a record
	CursorField string   // Field name that orders versions of a record (newest wins)
	// Deleted names a Bool field that is true on a tombstone: a version saying the
	// record with this key was deleted (a database's change data capture). The raw
	// view <source>.<stream> leaves out keys whose newest version is one; the
	// _history view keeps them. "" = the stream never deletes.
	Deleted string
	// ReadMode says how the stream is read when that is the deployment's choice and
	// what that way of reading cannot see ("cursor on updated_at: hard deletes are
	// not seen"); the catalog shows it beside the raw input. "" = as the API pages.
	ReadMode string

	// RequestsPerSecond paces calls before the API says no (0 = unpaced).
	RequestsPerSecond float64

	// Keys, when set, drives the stream from the mesh's own data: before a landing the
	// platform runs Keys.SQL over the current snapshots of the ports Keys.Inputs names
	// and this stream's own landings, and hands the stream the rows (PageRequest.Keys),
	// one request per key — an enrichment API asked about the mesh's companies.
	Keys *Keys
}

// Keys is the query that lists the keys a keyed stream asks its API about.
type Keys struct {
	// Inputs are the ports the query reads, as domain.product; they are views named
	// so in the query, as in a model. The stream's own landings are the views
	// <source>.<stream> (newest version per record) and <source>.<stream>_history.
	Inputs []string
	// SQL selects the keys, one row each, in a stable order (ORDER BY): a landing
	// resumes after the last key it made durable.
	SQL string
}

// Key is one row of a keyed stream's keys, each column as text ("" for NULL).
type Key map[string]string

// PageRequest asks a stream for the page after Cursor.
type PageRequest struct {
	// Cursor is where the previous page ended; nil starts from the beginning
	// (a full refresh) or, for a resumed sync, from the cursor of the last durable landing.
	Cursor json.RawMessage
	// SyncStart is fixed for one whole sync so every page sees the same upper bound;
	// records modified after it wait for the next sync.
	SyncStart time.Time
	// Partition narrows the read to one partition (e.g. a day "2024-03-02"); "" = unpartitioned.
	Partition string
	// Keys are the rows a keyed stream (StreamSpec.Keys) asks about in this sync, in
	// order; its cursor names the last key done, and a resumed landing goes on after
	// it. nil for other streams.
	Keys []Key
}

// Page is one response's worth of records.
type Page struct {
	Records []json.RawMessage
	// Next is the cursor after this page: resuming from it skips every record on this
	// and earlier pages. It is opaque and versioned ({"v":1,...}) by its connector.
	Next json.RawMessage
	// Done is true on the last page of the sync.
	Done bool
	// Warnings say what the page left out that on-call should know — a dropped file
	// refused for its header — and travel with the landing to the run's result.
	Warnings []string
}

// Stream is one collection of a source (contacts, issues, ...).
type Stream interface {
	Spec() StreamSpec
	// NextPage fetches one page. Errors carry an errs.Kind: Permission (401/403: never
	// retried), RateLimited (with RetryAfter), Quota (with Until), Transient, Invalid.
	NextPage(ctx context.Context, req PageRequest) (Page, error)
}

// Source is a configured API client and its streams.
type Source interface {
	Name() string // e.g. "hubspot"
	Streams() []Stream
	// Check makes the cheapest authenticated call, to tell bad credentials apart early.
	Check(ctx context.Context) error
}

// Lookup returns the stream of src with the given name.
func Lookup(src Source, name string) (Stream, bool) {
	for _, s := range src.Streams() {
		if s.Spec().Name == name {
			return s, true
		}
	}
	return nil, false
}
