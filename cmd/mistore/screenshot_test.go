package main

// Screenshots for the documentation: `make screenshots` runs the browser
// tests with MISTORE_SCREENSHOTS=docs/screenshots, and the journeys save
// their chosen moments there under stable names (home.png, cart.png,
// phone-product.png …), so the README shows the store as it is.

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const (
	// docShotMaxHeight crops a documentation screenshot to the top of the
	// page: what a reader needs to see, and a file that stays small.
	docShotMaxHeight = 1600
	// docShotMaxBytes is the most one documentation screenshot may weigh:
	// they are committed, and the README loads several.
	docShotMaxBytes = 400 << 10

	desktopWidth = 1280
	phoneWidth   = 390
)

// docShotsDir is where the documentation screenshots go: the directory in
// $MISTORE_SCREENSHOTS, or "" when no screenshots are wanted. A relative
// directory is from the repository's root, where make runs: go test runs
// the tests in the package's own directory.
func docShotsDir() string {
	dir := os.Getenv("MISTORE_SCREENSHOTS")
	if dir == "" || filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join("..", "..", dir)
}

// docShot saves the page in the tab ctx as dir/name.png, as a window width
// px wide shows it (a phone's, with its mobile viewport, below 600 px),
// from the top and at most docShotMaxHeight tall. It does nothing unless
// MISTORE_SCREENSHOTS is set, and nothing in a nojs tab: the pages look
// the same there, and one picture of each moment is enough.
func docShot(t *testing.T, ctx context.Context, name string, width int64) {
	t.Helper()
	docShotFrom(t, ctx, name, width, "")
}

// docShotFrom is docShot from the top of the first element matching css
// (less a margin) instead of the top of the page: for what is further
// down a page, like its comments.
func docShotFrom(t *testing.T, ctx context.Context, name string, width int64, css string) {
	t.Helper()
	dir := docShotsDir()
	if dir == "" || modeOf(ctx) == jsOff {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	height := int64(900)
	opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if width < 600 {
		height = 844
		opts = append(opts, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height, opts...),
		// From the top: a page scrolled by an earlier click draws its
		// sticky header halfway down a capture beyond the viewport.
		chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
	); err != nil {
		t.Fatalf("resize the window to %d px for %s: %v", width, name, err)
	}
	top := 0.0
	if css != "" {
		sel, err := json.Marshal(css)
		if err != nil {
			t.Fatal(err)
		}
		top, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
			const e = document.querySelector(`+string(sel)+`);
			return e ? Math.max(0, Math.floor(e.getBoundingClientRect().top + window.scrollY - 24)) : -1;
		})()`))
		if err != nil || top < 0 {
			t.Fatalf("no %s to screenshot %s from (%v)\n%s", css, name, err, pageText(ctx))
		}
	}
	full, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatalf("measure the page for %s: %v", name, err)
	}
	h := min(max(float64(height), full-top), docShotMaxHeight)
	data, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format:                page.CaptureScreenshotFormatPng,
			CaptureBeyondViewport: new(true),
			FromSurface:           new(true),
			Clip:                  &page.Viewport{X: 0, Y: top, Width: float64(width), Height: h, Scale: 1},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
	if err != nil {
		t.Fatalf("screenshot %s at %d px: %v", name, width, err)
	}
	if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
		t.Fatalf("reset the window after the screenshot %s: %v", name, err)
	}
	data = smallerPNG(t, name, data)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// smallerPNG re-encodes a screenshot at the best compression (and as RGB:
// a screenshot is opaque), keeping whichever of the two is smaller, since
// Chromium favours speed. A picture still over docShotMaxBytes (a page of
// soft gradients and product art) loses rows from the bottom until it
// fits: a shorter picture, never a blurred one.
func smallerPNG(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read the screenshot %s: %v", name, err)
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		t.Fatalf("screenshot %s: a %T cannot be cropped", name, img)
	}
	b := img.Bounds()
	for h := b.Dy(); ; h = h * 9 / 10 {
		var buf bytes.Buffer
		crop := sub.SubImage(image.Rect(b.Min.X, b.Min.Y, b.Max.X, b.Min.Y+h))
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, crop); err != nil {
			t.Fatalf("encode the screenshot %s: %v", name, err)
		}
		if h == b.Dy() && len(data) < buf.Len() {
			buf.Reset()
			buf.Write(data)
		}
		if buf.Len() <= docShotMaxBytes {
			return buf.Bytes()
		}
		if h < 600 {
			t.Errorf("screenshot %s is %d KB even %d px tall, more than the %d KB a documentation picture may weigh",
				name, buf.Len()>>10, h, docShotMaxBytes>>10)
			return buf.Bytes()
		}
	}
}
