package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear in the style of HdrHistogram: every power of
// two is split into subCount equal buckets, so a bucket is never wider than
// 1/subCount of its lower bound (0.78%), and reporting the bucket midpoint
// keeps the error under 0.4% from 1ns up to maxTrackable.
const (
	subBits  = 7
	subCount = 1 << subBits
	// maxShift bounds the range at 2^(maxShift+subBits+1)ns ≈ 68.7s, which
	// covers the 60s a request can plausibly take; longer values are clamped
	// into the top bucket while max still records them exactly.
	maxShift     = 28
	numChunks    = maxShift + 2
	maxTrackable = int64(1)<<(maxShift+subBits+1) - 1
)

// histogram records durations in nanoseconds. Its bucket layout is fixed, but
// each chunk of subCount buckets is allocated on first use: a run touches only
// the few octaves its latencies fall in, and with up to 10,000 workers times
// a dozen kinds a fully allocated array each would cost gigabytes.
type histogram struct {
	chunks [numChunks]*[subCount]uint64
	count  uint64
	sum    float64 // nanoseconds; float so a 24h run cannot overflow
	min    int64
	max    int64
}

// bucketIndex maps a value in [0, maxTrackable] to its bucket.
func bucketIndex(v int64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - (subBits + 1)
	return shift*subCount + int(v>>shift)
}

// bucketMid returns the midpoint of bucket idx, the value reported for every
// sample in it.
func bucketMid(idx int) int64 {
	if idx < 2*subCount {
		return int64(idx)
	}
	shift := idx/subCount - 1
	low := int64(idx%subCount+subCount) << shift
	return low + (int64(1)<<shift)/2
}

// record adds one sample; negative durations (a clock step) count as zero.
func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count++
	h.sum += float64(v)
	idx := bucketIndex(min(v, maxTrackable))
	c := h.chunks[idx/subCount]
	if c == nil {
		c = new([subCount]uint64)
		h.chunks[idx/subCount] = c
	}
	c[idx%subCount]++
}

// merge adds all samples of o into h.
func (h *histogram) merge(o *histogram) {
	if o.count == 0 {
		return
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.count += o.count
	h.sum += o.sum
	for i, oc := range o.chunks {
		if oc == nil {
			continue
		}
		c := h.chunks[i]
		if c == nil {
			c = new([subCount]uint64)
			h.chunks[i] = c
		}
		for j, n := range oc {
			c[j] += n
		}
	}
}

// reset empties h but keeps its chunks so that a histogram merged again and
// again (the progress line) does not allocate each time.
func (h *histogram) reset() {
	for _, c := range h.chunks {
		if c != nil {
			*c = [subCount]uint64{}
		}
	}
	h.count, h.sum, h.min, h.max = 0, 0, 0, 0
}

// quantile returns the value at quantile q in [0, 1], or 0 when empty. The
// result is clamped to the exact min and max so that no percentile exceeds
// max, whatever the bucket width.
func (h *histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := max(uint64(math.Ceil(q*float64(h.count))), 1)
	// The extremes are known exactly; bucket midpoints would blur them.
	if q == 0 {
		return time.Duration(h.min)
	}
	if rank >= h.count {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.chunks {
		if c == nil {
			continue
		}
		for j, n := range c {
			seen += n
			if seen >= rank {
				v := bucketMid(i*subCount + j)
				return time.Duration(min(max(v, h.min), h.max))
			}
		}
	}
	return time.Duration(h.max)
}

// mean returns the average sample, or 0 when empty.
func (h *histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.count))
}
