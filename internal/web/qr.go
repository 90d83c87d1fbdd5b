package web

import (
	"fmt"
	"html/template"
	"strings"

	"rsc.io/qr"
)

// qrQuietZone is the blank margin around a QR code, in modules: the four
// the standard asks for, without which phones often fail to read it.
const qrQuietZone = 4

// qrSVG draws text as a QR code (error correction level M) in an inline
// SVG, one path of unit squares in a viewBox of modules: it scales
// without blur, needs no image request, and the page's CSP allows it.
// label is what assistive technology reads instead of the picture.
func qrSVG(text, label string) (template.HTML, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	side := c.Size + 2*qrQuietZone
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="%s">`,
		side, side, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, side, side)
	for y := range c.Size {
		for x := range c.Size {
			if c.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+qrQuietZone, y+qrQuietZone)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	// Safe: every byte above is this function's own, bar the escaped label.
	return template.HTML(b.String()), nil
}
