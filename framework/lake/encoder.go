package lake

import (
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
			if err := e.fw.WriteBuffered(rec); err != nil {
				e.err = err
				e.failed.Store(true)
			}
		}
		rec.Release() // after a failure, only drained
	}
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
