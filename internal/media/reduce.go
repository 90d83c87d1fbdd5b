package media

import (
	"image"
	"image/color"
)

// reduce returns src as premultiplied RGBA, shrunk by a whole factor k:
// each pixel of the result the average of a k×k block (the blocks of the
// last column and row may be smaller); k = 1 only converts. It is the
// cheap first step of a large reduction, exact for what it does, which
// leaves resample a picture less than twice the size it makes. Averaging
// premultiplied colours keeps transparent pixels from darkening the edges
// of what they surround.
func reduce(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	acc := make([]uint64, 4*w) // premultiplied R, G, B and A of each block of the row
	n := make([]uint64, w)     // pixels in each block so far
	px := make([]uint8, 4*b.Dx())
	for y := 0; y < b.Dy(); y++ {
		premultipliedRow(src, b.Min.Y+y, px)
		for x := 0; x < b.Dx(); x++ {
			i := x / k
			acc[4*i] += uint64(px[4*x])
			acc[4*i+1] += uint64(px[4*x+1])
			acc[4*i+2] += uint64(px[4*x+2])
			acc[4*i+3] += uint64(px[4*x+3])
			n[i]++
		}
		if (y+1)%k != 0 && y+1 != b.Dy() {
			continue
		}
		row := dst.Pix[(y/k)*dst.Stride:]
		for i := range w {
			for c := range 4 {
				row[4*i+c] = uint8((acc[4*i+c] + n[i]/2) / n[i])
				acc[4*i+c] = 0
			}
			n[i] = 0
		}
	}
	return dst
}

// premultipliedRow writes row y of src into px as 8-bit premultiplied
// RGBA, with fast paths for what the decoders return.
func premultipliedRow(src image.Image, y int, px []uint8) {
	b := src.Bounds()
	switch s := src.(type) {
	case *image.YCbCr:
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := s.YOffset(x, y), s.COffset(x, y)
			r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			o := 4 * (x - b.Min.X)
			px[o], px[o+1], px[o+2], px[o+3] = r, g, bl, 255
		}
	case *image.NRGBA:
		row := s.Pix[s.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, a := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2]), uint32(row[4*x+3])
			px[4*x] = uint8((r*a + 127) / 255)
			px[4*x+1] = uint8((g*a + 127) / 255)
			px[4*x+2] = uint8((bl*a + 127) / 255)
			px[4*x+3] = uint8(a)
		}
	case *image.RGBA:
		copy(px, s.Pix[s.PixOffset(b.Min.X, y):s.PixOffset(b.Min.X, y)+4*b.Dx()])
	default:
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := src.At(x, y).RGBA()
			o := 4 * (x - b.Min.X)
			px[o], px[o+1], px[o+2], px[o+3] = uint8(r>>8), uint8(g>>8), uint8(bl>>8), uint8(a>>8)
		}
	}
}
