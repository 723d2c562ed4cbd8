package source

import (
	"context"
	"encoding/json"
)

// Acknowledger is a stream whose source keeps its own position and must hear when a
// landing is durable: a database's replication slot, which holds the changes from its
// confirmed position on and drops them once confirmed. The landing calls Committed
// with the landing's end cursor only after its manifest is written — never before —
// so a crash before that re-reads the changes and none is lost. A Committed that
// fails leaves the source behind the lake: the next sync starts from the lake's
// cursor and the next Committed catches up.
type Acknowledger interface {
	Committed(ctx context.Context, cursor json.RawMessage) error
}

// Describer is a stream whose spec is read from the source when a landing starts (a
// database table's columns) instead of being fixed in code. cursor is where the
// landing starts (nil for a full refresh): the stream compares what it landed
// before, which its cursor records, with what the source has now, and fails with
// errs.Invalid when a column it landed was dropped or changed type. The landing
// uses the returned spec for its files and manifest.
type Describer interface {
	Describe(ctx context.Context, cursor json.RawMessage) (StreamSpec, error)
}
