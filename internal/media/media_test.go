package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// halves is a w×h picture whose left half is red and right half blue,
// with alpha a everywhere.
func halves(w, h int, a uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 255, A: a}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: a}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withOrientation puts an EXIF segment saying orientation o right after
// a JPEG's start marker, as a camera writes it.
func withOrientation(jpg []byte, o uint16, order binary.ByteOrder) []byte {
	tiff := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(tiff, "II")
	} else {
		copy(tiff, "MM")
	}
	order.PutUint16(tiff[2:], 42)
	order.PutUint32(tiff[4:], 8)
	order.PutUint16(tiff[8:], 1)
	e := tiff[10:]
	order.PutUint16(e[0:], 0x0112)
	order.PutUint16(e[2:], 3)
	order.PutUint32(e[4:], 1)
	order.PutUint16(e[8:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func near(c color.Color, r, b uint32) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	cr, cb := uint32(n.R), uint32(n.B)
	d := func(x, y uint32) uint32 {
		if x > y {
			return x - y
		}
		return y - x
	}
	return d(cr, r) < 40 && d(cb, b) < 40
}

func decodeRendition(t *testing.T, r Rendition) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("rendition %d px does not decode: %v", r.Width, err)
	}
	if want := map[string]string{"image/jpeg": "jpeg", "image/png": "png"}[r.ContentType]; format != want {
		t.Fatalf("rendition %d px is %s, says %s", r.Width, format, r.ContentType)
	}
	if b := img.Bounds(); b.Dx() != r.Width || b.Dy() != r.Height {
		t.Fatalf("rendition says %d×%d, is %d×%d", r.Width, r.Height, b.Dx(), b.Dy())
	}
	return img
}

func TestProcessSizes(t *testing.T) {
	cases := []struct {
		name          string
		data          []byte
		wantType      string
		wantW, wantH  int
		wantWidths    []int
		wantHeightsOf map[int]int
	}{
		{"large JPEG", encodeJPEG(t, halves(3000, 2000, 255)), "image/jpeg", 3000, 2000, []int{400, 800, 1600}, map[int]int{400: 267, 1600: 1067}},
		{"PNG between the widths", encodePNG(t, halves(1000, 500, 255)), "image/jpeg", 1000, 500, []int{400, 800, 1000}, map[int]int{1000: 500}},
		{"transparent PNG", encodePNG(t, halves(900, 900, 128)), "image/png", 900, 900, []int{400, 800, 900}, nil},
		{"small JPEG", encodeJPEG(t, halves(300, 200, 255)), "image/jpeg", 300, 200, []int{300}, map[int]int{300: 200}},
		{"exactly a width", encodeJPEG(t, halves(800, 800, 255)), "image/jpeg", 800, 800, []int{400, 800}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := Process(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != c.wantW || p.Height != c.wantH {
				t.Errorf("size %d×%d, want %d×%d", p.Width, p.Height, c.wantW, c.wantH)
			}
			var widths []int
			for _, r := range p.Renditions {
				widths = append(widths, r.Width)
				if r.ContentType != c.wantType {
					t.Errorf("rendition %d px is %s, want %s", r.Width, r.ContentType, c.wantType)
				}
				img := decodeRendition(t, r)
				if h, ok := c.wantHeightsOf[r.Width]; ok && r.Height != h {
					t.Errorf("rendition %d px is %d high, want %d", r.Width, r.Height, h)
				}
				// The picture survives scaling: red on the left, blue on the right.
				if !near(img.At(r.Width/8, r.Height/2), 255, 0) || !near(img.At(r.Width*7/8, r.Height/2), 0, 255) {
					t.Errorf("rendition %d px lost the picture: %v, %v", r.Width, img.At(r.Width/8, r.Height/2), img.At(r.Width*7/8, r.Height/2))
				}
			}
			if !equalInts(widths, c.wantWidths) {
				t.Errorf("widths %v, want %v", widths, c.wantWidths)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProcessOrientation: a photo stored on its side with EXIF saying so
// comes out upright, and the EXIF (with whatever else it held) is gone.
func TestProcessOrientation(t *testing.T) {
	stored := encodeJPEG(t, halves(600, 300, 255)) // red left, blue right
	for _, c := range []struct {
		o        uint16
		order    binary.ByteOrder
		w, h     int
		redAt    image.Point // a point of the upright 600-wide-or-high picture that must be red
		blueAt   image.Point
		rotation string
	}{
		{1, binary.BigEndian, 600, 300, image.Pt(100, 150), image.Pt(500, 150), "none"},
		{3, binary.LittleEndian, 600, 300, image.Pt(500, 150), image.Pt(100, 150), "half a turn"},
		{6, binary.BigEndian, 300, 600, image.Pt(150, 100), image.Pt(150, 500), "a quarter turn clockwise"},
		{8, binary.LittleEndian, 300, 600, image.Pt(150, 500), image.Pt(150, 100), "a quarter turn anticlockwise"},
		{2, binary.LittleEndian, 600, 300, image.Pt(500, 150), image.Pt(100, 150), "mirrored"},
	} {
		data := withOrientation(stored, c.o, c.order)
		if got := exifOrientation(data); got != int(c.o) {
			t.Fatalf("orientation %d read as %d", c.o, got)
		}
		p, err := Process(data)
		if err != nil {
			t.Fatal(err)
		}
		if p.Width != c.w || p.Height != c.h {
			t.Errorf("orientation %d (%s): %d×%d, want %d×%d", c.o, c.rotation, p.Width, p.Height, c.w, c.h)
		}
		full := p.Renditions[len(p.Renditions)-1]
		img := decodeRendition(t, full)
		if full.Width != c.w {
			t.Fatalf("orientation %d: widest rendition %d px, want %d", c.o, full.Width, c.w)
		}
		if !near(img.At(c.redAt.X, c.redAt.Y), 255, 0) || !near(img.At(c.blueAt.X, c.blueAt.Y), 0, 255) {
			t.Errorf("orientation %d (%s): not upright: %v at %v, %v at %v", c.o, c.rotation,
				img.At(c.redAt.X, c.redAt.Y), c.redAt, img.At(c.blueAt.X, c.blueAt.Y), c.blueAt)
		}
		for _, r := range p.Renditions {
			if bytes.Contains(r.Data, []byte("Exif")) {
				t.Errorf("orientation %d: rendition %d px still carries EXIF", c.o, r.Width)
			}
		}
	}
}

// pngClaiming is a valid 1×1 PNG whose header claims w×h pixels.
func pngClaiming(t *testing.T, w, h uint32) []byte {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	// Signature (8), IHDR length (4), "IHDR" (4), then width and height.
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestProcessRefuses(t *testing.T) {
	good := encodeJPEG(t, halves(50, 50, 255))
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotImage},
		{"text", []byte("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"), ErrNotImage},
		{"GIF", gif, ErrNotImage},
		{"cut short", good[:len(good)/2], ErrNotImage},
		{"header only, huge", pngClaiming(t, 100_000, 100_000), ErrTooLarge},
		{"too many pixels", pngClaiming(t, 10_000, 10_000), ErrTooLarge},
		{"too wide", pngClaiming(t, 20_000, 10), ErrTooLarge},
		{"too many bytes", append(bytes.Clone(good), make([]byte, MaxBytes)...), ErrTooLarge},
	}
	for _, c := range cases {
		if _, err := Process(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzExifOrientation(f *testing.F) {
	jpg := encodeJPEG(f, halves(8, 8, 255))
	f.Add(jpg)
	f.Add(withOrientation(jpg, 6, binary.BigEndian))
	f.Add(withOrientation(jpg, 8, binary.LittleEndian))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := exifOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

// FuzzProcess: no upload makes Process panic, and what it accepts always
// has renditions that match what they say they are.
func FuzzProcess(f *testing.F) {
	f.Add(encodeJPEG(f, halves(20, 10, 255)))
	f.Add(encodePNG(f, halves(10, 20, 100)))
	f.Add(withOrientation(encodeJPEG(f, halves(12, 6, 255)), 6, binary.BigEndian))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Process(data)
		if err != nil {
			if !errors.Is(err, ErrNotImage) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(p.Renditions) == 0 || p.Width < 1 || p.Height < 1 {
			t.Fatalf("accepted with nothing to serve: %+v", p)
		}
		for _, r := range p.Renditions {
			decodeRendition(t, r)
		}
	})
}

// BenchmarkProcess is the work of one upload: a 12-megapixel camera JPEG
// (4000×3000) and a 2000×2000 web-sized PNG, each decoded, scaled to
// three widths and encoded again.
func BenchmarkProcess(b *testing.B) {
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"jpeg-4000x3000", encodeJPEG(b, halves(4000, 3000, 255))},
		{"png-2000x2000", encodePNG(b, halves(2000, 2000, 255))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := Process(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestResampleKeepsFlatColour: the weights of every output pixel, at the
// edges too, sum to one, so a flat picture stays exactly its colour at
// any size, up or down, and a transparent one keeps its colour under
// its alpha.
func TestResampleKeepsFlatColour(t *testing.T) {
	for _, c := range []struct {
		pix          color.RGBA // premultiplied
		sw, sh, w, h int
	}{
		{color.RGBA{10, 200, 30, 255}, 1000, 700, 333, 233},
		{color.RGBA{10, 200, 30, 255}, 97, 13, 400, 54},
		{color.RGBA{60, 0, 100, 128}, 640, 480, 41, 31},
	} {
		src := image.NewRGBA(image.Rect(0, 0, c.sw, c.sh))
		for i := 0; i < len(src.Pix); i += 4 {
			src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = c.pix.R, c.pix.G, c.pix.B, c.pix.A
		}
		dst := resample(src, c.w, c.h)
		if dst.Rect.Dx() != c.w || dst.Rect.Dy() != c.h {
			t.Fatalf("%d×%d, want %d×%d", dst.Rect.Dx(), dst.Rect.Dy(), c.w, c.h)
		}
		for y := range c.h {
			for x := range c.w {
				if got := dst.RGBAAt(x, y); absDiff(got.R, c.pix.R) > 1 || absDiff(got.G, c.pix.G) > 1 || absDiff(got.B, c.pix.B) > 1 || absDiff(got.A, c.pix.A) > 1 {
					t.Fatalf("%d×%d to %d×%d: pixel (%d, %d) is %v, want %v", c.sw, c.sh, c.w, c.h, x, y, got, c.pix)
				}
			}
		}
	}
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestReduceAverages: each pixel of a reduction is its block's average,
// premultiplied, the short blocks of the last row and column included.
func TestReduceAverages(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for y := range 3 {
		for x := range 5 {
			src.SetNRGBA(x, y, color.NRGBA{R: uint8(40 * x), G: uint8(100 * y), B: 7, A: 255})
		}
	}
	src.SetNRGBA(4, 2, color.NRGBA{R: 255, A: 0}) // transparent: its colour must not count
	dst := reduce(src, 2)
	if dst.Rect.Dx() != 3 || dst.Rect.Dy() != 2 {
		t.Fatalf("%v", dst.Rect)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{
		{0, 0, color.RGBA{20, 50, 7, 255}},   // (0,40,0,40) and (0,0,100,100)
		{2, 0, color.RGBA{160, 50, 7, 255}},  // the last column: one pixel wide
		{1, 1, color.RGBA{100, 200, 7, 255}}, // the last row: one pixel high
		{2, 1, color.RGBA{0, 0, 0, 0}},       // only the transparent pixel
	} {
		if got := dst.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("(%d, %d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}
