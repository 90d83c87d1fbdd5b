package web

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"rsc.io/qr"
)

// TestQRSVG: the drawing holds exactly the code's dark modules, shifted
// by the quiet zone, in a square viewBox with room for it; the label is
// escaped.
func TestQRSVG(t *testing.T) {
	const text = "otpauth://totp/Mistore%20shop.example:ada@example.com?algorithm=SHA1&digits=6&issuer=Mistore+shop.example&period=30&secret=ABN5VMB2MTZOCWNAW52XCIPWXKQ65RZ4"
	svg, err := qrSVG(text, `Key for "Ada" <b>`)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	c, _ := qr.Encode(text, qr.M)
	side := c.Size + 2*qrQuietZone
	if !strings.HasPrefix(s, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `+strconv.Itoa(side)+" "+strconv.Itoa(side)+`"`) ||
		!strings.Contains(s, `aria-label="Key for &#34;Ada&#34; &lt;b&gt;"`) || !strings.HasSuffix(s, "</svg>") {
		t.Fatalf("svg: %.300s", s)
	}
	drawn := map[[2]int]bool{}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllStringSubmatch(s, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		drawn[[2]int{x - qrQuietZone, y - qrQuietZone}] = true
	}
	dark := 0
	for y := range c.Size {
		for x := range c.Size {
			if c.Black(x, y) != drawn[[2]int{x, y}] {
				t.Fatalf("module (%d, %d): code %v, drawn %v", x, y, c.Black(x, y), drawn[[2]int{x, y}])
			}
			if c.Black(x, y) {
				dark++
			}
		}
	}
	if len(drawn) != dark || dark == 0 {
		t.Fatalf("%d squares drawn, %d dark modules", len(drawn), dark)
	}
	// The three finder patterns: the corners' 7x7 squares are dark at
	// their outer ring.
	for _, corner := range [][2]int{{0, 0}, {c.Size - 7, 0}, {0, c.Size - 7}} {
		for i := range 7 {
			if !c.Black(corner[0]+i, corner[1]) || !c.Black(corner[0], corner[1]+i) {
				t.Fatalf("no finder pattern at %v", corner)
			}
		}
	}
	if _, err := qrSVG(strings.Repeat("x", 5000), "too long"); err == nil {
		t.Error("a text too long for any QR code was drawn")
	}
}
