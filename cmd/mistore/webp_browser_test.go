package main

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"mistore/internal/media"
)

// TestBrowserWebPPhotos: the WebP files a browser (Chromium's libwebp)
// writes, lossy and with transparency, are photos the store takes: decoded,
// scaled, and kept as JPEG or, with transparency, PNG.
func TestBrowserWebPPhotos(t *testing.T) {
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	// A 900×600 canvas, left half red and right half blue; with alpha, the
	// whole at half opacity.
	const js = `(alpha) => {
		const c = document.createElement('canvas'); c.width = 900; c.height = 600;
		const g = c.getContext('2d'); g.globalAlpha = alpha ? 0.5 : 1;
		g.fillStyle = '#dc0000'; g.fillRect(0, 0, 450, 600);
		g.fillStyle = '#0000dc'; g.fillRect(450, 0, 450, 600);
		return c.toDataURL('image/webp', 0.9);
	}`
	for _, alpha := range []bool{false, true} {
		expr := "(" + js + ")(" + map[bool]string{false: "false", true: "true"}[alpha] + ")"
		url, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatal(err)
		}
		b64, ok := strings.CutPrefix(url, "data:image/webp;base64,")
		if !ok {
			t.Fatalf("the browser wrote no WebP: %.60s", url)
		}
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		pic, err := media.Process(data)
		if err != nil {
			t.Fatalf("alpha %v: the browser's WebP (%d bytes) refused: %v", alpha, len(data), err)
		}
		want := map[bool]string{false: "image/jpeg", true: "image/png"}[alpha]
		if pic.Width != 900 || pic.Height != 600 || len(pic.Renditions) != 3 {
			t.Fatalf("alpha %v: %d×%d in %d renditions", alpha, pic.Width, pic.Height, len(pic.Renditions))
		}
		for _, r := range pic.Renditions {
			if r.ContentType != want {
				t.Errorf("alpha %v: a %d px rendition is %s, want %s", alpha, r.Width, r.ContentType, want)
			}
			img, _, err := image.Decode(bytes.NewReader(r.Data))
			if err != nil {
				t.Fatalf("alpha %v: rendition %d px: %v", alpha, r.Width, err)
			}
			left := color.NRGBAModel.Convert(img.At(r.Width/8, r.Height/2)).(color.NRGBA)
			right := color.NRGBAModel.Convert(img.At(r.Width*7/8, r.Height/2)).(color.NRGBA)
			if left.R < 180 || left.B > 60 || right.B < 180 || right.R > 60 || (alpha && (left.A < 100 || left.A > 155)) {
				t.Errorf("alpha %v: rendition %d px lost the picture: %v, %v", alpha, r.Width, left, right)
			}
		}
	}
}
