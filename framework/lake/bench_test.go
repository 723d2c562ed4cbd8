package lake

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLand lands b.N contact-like records (pages of 100, files of 500k rows) into
// a local file bucket and reports rows/s and the peak live heap sampled while it runs.
// The peak heap must stay flat as b.N grows (bounded memory): compare
// go test -bench Land -benchtime 100000x and -benchtime 1000000x.
func BenchmarkLand(b *testing.B) {
	ctx := context.Background()
	l, err := Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				max = maxU(max, ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	res, err := l.Land(ctx, &fakeStream{n: b.N, size: 100}, LandRequest{
		Stream: StreamRef{Domain: "bench", Source: "fake", Stream: "contacts"}, RunID: "bench", FileRows: 500_000,
	})
	b.StopTimer()
	close(stop)
	p := <-peak
	if err != nil {
		b.Fatal(err)
	}
	if res.Manifest.Rows != int64(b.N) {
		b.Fatalf("landed %d rows, want %d", res.Manifest.Rows, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
	b.ReportMetric(float64(p)/(1<<20), "peak-heap-MiB")
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}
