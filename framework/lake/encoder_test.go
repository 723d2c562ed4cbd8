package lake

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// failingSink accepts ok bytes, then fails every write, as an upload whose connection
// dropped does.
type failingSink struct{ ok int }

var errSink = errors.New("connection reset")

func (s *failingSink) Write(p []byte) (int, error) {
	if s.ok < len(p) {
		return 0, errSink
	}
	s.ok -= len(p)
	return len(p), nil
}

func TestEncoderReportsAFailedWriteAndReleasesEveryBatch(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	fw, err := pqarrow.NewFileWriter(schema, &failingSink{ok: 64}, parquet.NewWriterProperties(parquet.WithAllocator(alloc), parquet.WithMaxRowGroupLength(10)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(alloc)))
	if err != nil {
		t.Fatal(err)
	}
	enc := startEncoder(fw)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	var writeErr error
	for i := 0; i < 50 && writeErr == nil; i++ {
		for range 10 {
			b.Field(0).(*array.StringBuilder).Append("a value long enough to fill the sink's allowance")
		}
		writeErr = enc.write(b.NewRecordBatch())
	}
	finishErr := enc.finish()
	if !errors.Is(finishErr, errSink) {
		t.Fatalf("finish = %v, want the sink's error", finishErr)
	}
	if writeErr != nil && !errors.Is(writeErr, errSink) {
		t.Fatalf("write = %v, want the sink's error", writeErr)
	}
	if again := enc.finish(); !errors.Is(again, errSink) {
		t.Fatalf("second finish = %v, want the same error", again)
	}
	fw.Close()
}

// A panic in the Parquet writer (here: no writer at all) is the landing's error, not
// the end of the worker process.
func TestEncoderTurnsAPanicIntoAnError(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer alloc.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(alloc, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append("x")
	enc := startEncoder(nil)
	if err := enc.write(b.NewRecordBatch()); err != nil {
		t.Fatalf("the first write only hands the batch over, got %v", err)
	}
	if err := enc.finish(); err == nil || !strings.Contains(err.Error(), "parquet writer panicked") {
		t.Fatalf("finish = %v, want the panic as an error", err)
	}
}
