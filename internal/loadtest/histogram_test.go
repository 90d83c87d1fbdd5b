package loadtest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func within(got, want time.Duration, tolerance float64) bool {
	return math.Abs(float64(got-want)) <= tolerance*float64(want)
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	// 1µs .. 10ms in 1µs steps: the value at quantile q is q*10ms.
	const n = 10000
	for i := 1; i <= n; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999} {
		want := time.Duration(math.Ceil(q*n)) * time.Microsecond
		if got := h.quantile(q); !within(got, want, 0.02) {
			t.Errorf("quantile(%v) = %s, want %s ± 2%%", q, got, want)
		}
	}
	if got := h.quantile(1); got != n*time.Microsecond {
		t.Errorf("quantile(1) = %s, want the exact max %s", got, n*time.Microsecond)
	}
	if got := h.quantile(0); got != time.Microsecond {
		t.Errorf("quantile(0) = %s, want the exact min 1µs", got)
	}
	if want := time.Duration(n+1) * time.Microsecond / 2; !within(h.mean(), want, 0.001) {
		t.Errorf("mean = %s, want %s", h.mean(), want)
	}
}

func TestHistogramPrecisionAcrossRange(t *testing.T) {
	// A single value must come back within 1% anywhere from 1µs to 60s.
	for v := time.Microsecond; v <= 60*time.Second; v = v*101/100 + 1 {
		var h histogram
		h.record(v)
		h.record(2 * v) // so min/max clamping does not hide the bucket error
		if got := h.quantile(0.5); !within(got, v, 0.01) {
			t.Fatalf("recorded %s, quantile(0.5) = %s", v, got)
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 || h.mean() != 0 {
		t.Error("empty histogram should report zero")
	}
	h.record(-time.Second)
	h.record(2 * time.Hour) // beyond the tracked range
	if h.min != 0 || h.max != int64(2*time.Hour) {
		t.Errorf("min %d max %d, want 0 and 2h", h.min, h.max)
	}
	if got := h.quantile(1); got != 2*time.Hour {
		t.Errorf("quantile(1) = %s, want the exact max 2h", got)
	}
	if got := h.quantile(0.5); got != 0 {
		t.Errorf("quantile(0.5) = %s, want 0", got)
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	prev := bucketIndex(0)
	for v := int64(1); v <= maxTrackable; v = v*17/16 + 1 {
		idx := bucketIndex(v)
		if idx < prev || idx >= numChunks*subCount {
			t.Fatalf("bucketIndex(%d) = %d after %d", v, idx, prev)
		}
		mid := bucketMid(idx)
		if math.Abs(float64(mid-v)) > float64(v)/subCount+1 {
			t.Fatalf("bucketMid(bucketIndex(%d)) = %d, too far", v, mid)
		}
		prev = idx
	}
	if got := bucketIndex(maxTrackable); got != numChunks*subCount-1 {
		t.Errorf("bucketIndex(max) = %d, want the last bucket %d", got, numChunks*subCount-1)
	}
}

func TestHistogramMergeEqualsRecordingAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var a, b, all histogram
	for i := range 20000 {
		// Log-uniform from 1µs to about 1s, like real latencies.
		d := time.Duration(math.Exp(rng.Float64()*math.Log(1e6))) * time.Microsecond
		all.record(d)
		if i%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	var m histogram
	m.merge(&a)
	m.merge(&b)
	for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
		if m.quantile(q) != all.quantile(q) {
			t.Errorf("quantile(%v): merged %s, direct %s", q, m.quantile(q), all.quantile(q))
		}
	}
	if m.count != all.count || m.min != all.min || m.max != all.max {
		t.Errorf("merged count/min/max %d/%d/%d, direct %d/%d/%d", m.count, m.min, m.max, all.count, all.min, all.max)
	}
	m.reset()
	if m.count != 0 || m.quantile(0.5) != 0 {
		t.Error("reset histogram is not empty")
	}
}
