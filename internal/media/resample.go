package media

import (
	"image"
	"math"
)

// resample scales src, premultiplied RGBA, to w×h with the Catmull-Rom
// cubic (as sharp as photographs want, without the ringing of wider
// kernels), one axis at a time: across each row first, then down each
// column, with 8 bits a channel in between as Pillow does. The working
// picture is w pixels wide and src's height, a quarter of the memory
// draw.CatmullRom's float64 buffer takes.
func resample(src *image.RGBA, w, h int) *image.RGBA {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	tmp := image.NewRGBA(image.Rect(0, 0, w, sh))
	cols := filterWeights(sw, w)
	for y := range sh {
		in := src.Pix[y*src.Stride:]
		out := tmp.Pix[y*tmp.Stride:]
		for x, f := range cols {
			var r, g, b, a float32
			for i, wt := range f.w {
				p := in[4*(f.start+i):]
				r += wt * float32(p[0])
				g += wt * float32(p[1])
				b += wt * float32(p[2])
				a += wt * float32(p[3])
			}
			put(out[4*x:], r, g, b, a)
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	rows := filterWeights(sh, h)
	for y, f := range rows {
		out := dst.Pix[y*dst.Stride:]
		for x := range w {
			var r, g, b, a float32
			for i, wt := range f.w {
				p := tmp.Pix[(f.start+i)*tmp.Stride+4*x:]
				r += wt * float32(p[0])
				g += wt * float32(p[1])
				b += wt * float32(p[2])
				a += wt * float32(p[3])
			}
			put(out[4*x:], r, g, b, a)
		}
	}
	return dst
}

// put stores a filtered premultiplied pixel: rounded, and clamped so that
// no colour exceeds its alpha (the cubic overshoots at hard edges).
func put(p []uint8, r, g, b, a float32) {
	av := clamp8(a, 255)
	p[0], p[1], p[2], p[3] = clamp8(r, av), clamp8(g, av), clamp8(b, av), av
}

func clamp8(v float32, hi uint8) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= float32(hi):
		return hi
	}
	return uint8(v + 0.5)
}

// filter is the weights of the source pixels from start on that make one
// output pixel.
type filter struct {
	start int
	w     []float32
}

// filterWeights are the Catmull-Rom weights that map n source pixels to
// m: stretched by the reduction so that every source pixel counts, and
// normalised to sum to 1.
func filterWeights(n, m int) []filter {
	scale := float64(n) / float64(m)
	stretch := max(scale, 1)
	support := 2 * stretch
	out := make([]filter, m)
	for o := range out {
		center := (float64(o) + 0.5) * scale
		lo := max(0, int(math.Floor(center-support)))
		hi := min(n, int(math.Ceil(center+support)))
		w := make([]float64, hi-lo)
		var sum float64
		for i := lo; i < hi; i++ {
			v := catmullRom((float64(i) + 0.5 - center) / stretch)
			w[i-lo] = v
			sum += v
		}
		f := filter{start: lo, w: make([]float32, len(w))}
		for i, v := range w {
			f.w[i] = float32(v / sum)
		}
		out[o] = f
	}
	return out
}

// catmullRom is the Catmull-Rom cubic (B = 0, C = 1/2), zero from 2 on.
func catmullRom(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}
