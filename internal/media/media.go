// Package media turns a picture staff upload (a product photo) into the
// renditions the store serves: checked to be a JPEG, PNG or WebP of sane
// size before it is decoded, turned upright as its camera said, scaled to
// a few widths and encoded again. Encoding again is also what makes an
// upload safe to serve: whatever else the file carried (EXIF with the
// place it was taken, comments, a polyglot's script) is not in the output.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	_ "golang.org/x/image/webp" // registers the WebP decoder
)

// MaxBytes bounds an uploaded file: far more than a product photo
// prepared for the web needs, enough for one straight off a camera.
const MaxBytes = 20 << 20

// MaxPixels bounds an upload's pixels, checked from its header before it
// is decoded, so that a small file claiming a huge picture (a
// decompression bomb) costs nothing. 50 megapixels is a full-frame camera.
const MaxPixels = 50_000_000

// MaxSide bounds either side of an upload, in pixels.
const MaxSide = 12_000

// Widths are the widths the renditions are made at, narrowest first. A
// picture narrower than one of them is kept at its own width instead: a
// rendition is never scaled up.
var Widths = []int{400, 800, 1600}

// JPEGQuality is the quality renditions without transparency are encoded
// at: indistinguishable from the original on a product page at a third of
// the bytes of quality 95.
const JPEGQuality = 85

// Errors Process returns for an upload it refuses.
var (
	// ErrNotImage means the file is not a JPEG, PNG or WebP picture, or is
	// damaged.
	ErrNotImage = errors.New("media: not a JPEG, PNG or WebP picture")
	// ErrTooLarge means the file or the picture in it is larger than
	// MaxBytes, MaxPixels or MaxSide allow.
	ErrTooLarge = errors.New("media: picture too large")
)

// Rendition is one encoded size of a picture.
type Rendition struct {
	Width, Height int
	ContentType   string
	Data          []byte
}

// Picture is a processed upload: its size upright, and its renditions,
// narrowest first.
type Picture struct {
	Width, Height int
	Renditions    []Rendition
}

// accepted are the formats Process takes, by the name the image package
// gives them. Another decoder registered elsewhere in the program (GIF,
// say) does not widen it.
var accepted = map[string]bool{"jpeg": true, "png": true, "webp": true}

// Process checks, decodes and scales an uploaded picture. It refuses
// anything but a whole JPEG, PNG or WebP within the size bounds with
// ErrNotImage or ErrTooLarge; the bounds are checked from the file's
// header, before the pixels are decoded.
func Process(data []byte) (Picture, error) {
	if len(data) > MaxBytes {
		return Picture{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || !accepted[format] {
		return Picture{}, ErrNotImage
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return Picture{}, ErrNotImage
	}
	if cfg.Width > MaxSide || cfg.Height > MaxSide || cfg.Width*cfg.Height > MaxPixels {
		return Picture{}, fmt.Errorf("%w: %d×%d pixels, at most %d×%d and %d in all", ErrTooLarge, cfg.Width, cfg.Height, MaxSide, MaxSide, MaxPixels)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return Picture{}, ErrNotImage
	}
	orientation := 1
	if format == "jpeg" {
		orientation = exifOrientation(data)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if swapsSides(orientation) {
		w, h = h, w
	}
	opaque := isOpaque(src)
	out := Picture{Width: w, Height: h}

	// Scaled from the widest rendition down, each from the one before, so
	// that only the first step reads the whole upload. A large upload is
	// first reduced by the whole factor that keeps it at least as wide as
	// the widest rendition (see reduce).
	targets := renditionWidths(w)
	scaled := make([]*image.RGBA, len(targets))
	prev := reduce(src, max(1, b.Dx()/rawWidth(targets[len(targets)-1], w, h, orientation)))
	for i := len(targets) - 1; i >= 0; i-- {
		tw := targets[i]
		th := ScaledHeight(w, h, tw)
		rw, rh := tw, th // in the file's own frame, before turning upright
		if swapsSides(orientation) {
			rw, rh = th, tw
		}
		if rw != prev.Rect.Dx() || rh != prev.Rect.Dy() {
			prev = resample(prev, rw, rh)
		}
		scaled[i] = prev
	}
	for _, img := range scaled {
		upright := orient(img, orientation)
		r, err := encode(upright, opaque)
		if err != nil {
			return Picture{}, err
		}
		out.Renditions = append(out.Renditions, r)
	}
	return out, nil
}

// ScaledHeight is the height of the rendition width wide of a picture
// w×h: rounded, at least 1. Pages that state a rendition's size use it.
func ScaledHeight(w, h, width int) int { return max(1, (h*width+w/2)/w) }

// rawWidth is the width, in the file's own frame, of the rendition
// targetWidth wide once upright, of a picture w×h upright.
func rawWidth(targetWidth, w, h, orientation int) int {
	if swapsSides(orientation) {
		return ScaledHeight(w, h, targetWidth)
	}
	return targetWidth
}

// renditionWidths are the widths a picture w pixels wide is kept at.
func renditionWidths(w int) []int {
	var out []int
	for _, target := range Widths {
		if target >= w {
			return append(out, w)
		}
		out = append(out, target)
	}
	return out
}

// isOpaque reports whether img has no transparent pixel, so that it can
// be a JPEG; the decoders' image types all say.
func isOpaque(img image.Image) bool {
	o, ok := img.(interface{ Opaque() bool })
	return !ok || o.Opaque()
}

// encode writes a rendition, premultiplied RGBA, as JPEG when it has no
// transparency, else as PNG.
func encode(img *image.RGBA, opaque bool) (Rendition, error) {
	var buf bytes.Buffer
	r := Rendition{Width: img.Rect.Dx(), Height: img.Rect.Dy()}
	if opaque {
		r.ContentType = "image/jpeg"
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: JPEGQuality}); err != nil {
			return Rendition{}, fmt.Errorf("encode %d px JPEG: %w", r.Width, err)
		}
	} else {
		r.ContentType = "image/png"
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, img); err != nil {
			return Rendition{}, fmt.Errorf("encode %d px PNG: %w", r.Width, err)
		}
	}
	r.Data = buf.Bytes()
	return r, nil
}
