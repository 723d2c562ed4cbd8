package lake

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// encoder writes record batches into a Parquet file on a goroutine of its own, so
// that the landing decodes the next batch while this one is encoded and compressed.
// The two halves cost about the same, and a worker has more than one core. At most
// one batch waits for it, so memory stays bounded by three batches.
type encoder struct {
	fw      *pqarrow.FileWriter
	batches chan arrow.RecordBatch
	done    chan struct{}
	closed  bool // batches is closed; only the landing's goroutine reads or writes it
	failed  atomic.Bool
	err     error // written by the goroutine before failed is set, or before done closes
}

func startEncoder(fw *pqarrow.FileWriter) *encoder {
	e := &encoder{fw: fw, batches: make(chan arrow.RecordBatch, 1), done: make(chan struct{})}
	go e.run()
	return e
}

func (e *encoder) run() {
	defer close(e.done)
	for rec := range e.batches {
		if e.err == nil {
			if err := e.write1(rec); err != nil {
				e.err = err
				e.failed.Store(true)
			}
		}
		rec.Release() // after a failure, only drained
	}
}

// write1 writes one batch. A panic in the Parquet writer becomes this landing's error:
// Temporal recovers an activity's own panics but not those of goroutines it starts,
// and one would take the worker and every activity on it down.
func (e *encoder) write1(rec arrow.RecordBatch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet writer panicked: %v", r)
		}
	}()
	return e.fw.WriteBuffered(rec)
}

// write hands rec over; the encoder releases it. An error is an earlier batch's: the
// file is broken and the landing must stop.
func (e *encoder) write(rec arrow.RecordBatch) error {
	if e.failed.Load() {
		rec.Release()
		return e.err
	}
	e.batches <- rec
	return nil
}

// finish waits until every batch handed over is written, and says whether all were.
// It is safe to call more than once.
func (e *encoder) finish() error {
	if !e.closed {
		e.closed = true
		close(e.batches)
	}
	<-e.done
	return e.err
}
