package report

import (
	"encoding/xml"
	"html/template"
	"strconv"
	"strings"
)

// Bar is one bar of a chart.
type Bar struct {
	// Label names the bar (a day, a status).
	Label string
	// Value sets its length; negative values are drawn as zero.
	Value int64
	// Text is the value as a reader reads it ("$12.00"); empty: Value.
	Text string
}

// Chart is a bar chart rendered on the server as inline SVG: no script,
// an image with a title and a description for screen readers (the page
// shows the same numbers in a table beside it), and every bar titled with
// its label and value for a pointer's tooltip.
type Chart struct {
	// ID makes the chart's element ids unique on the page; anything but
	// letters, digits, '-' and '_' is dropped from it.
	ID    string
	Title string
	// Desc says what the chart shows, in a sentence.
	Desc string
	Bars []Bar
	// Horizontal draws one bar a row with its label at the left, for few
	// bars with long labels; otherwise bars stand in columns.
	Horizontal bool
}

// Chart geometry, in SVG user units; the SVG scales to its box.
const (
	colWidth   = 720
	colHeight  = 220
	colPadTop  = 24
	colPadBot  = 28
	colPadLeft = 8
	rowHeight  = 26
	rowLabel   = 150
	rowValue   = 110
	rowWidth   = 640
)

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func cleanID(s string) string {
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
	if id == "" {
		id = "chart"
	}
	return id
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func (b Bar) text() string {
	if b.Text != "" {
		return b.Text
	}
	return strconv.FormatInt(b.Value, 10)
}

// maxValue is the largest value, at least 1 so that an empty chart draws
// no bars rather than dividing by zero.
func (c Chart) maxValue() int64 {
	m := int64(1)
	for _, b := range c.Bars {
		m = max(m, b.Value)
	}
	return m
}

// SVG renders the chart. Every text in it is escaped here, so the result
// is safe to put in a page as is.
func (c Chart) SVG() template.HTML {
	id := cleanID(c.ID)
	var b strings.Builder
	w, h := colWidth, colHeight
	if c.Horizontal {
		w, h = rowWidth, max(len(c.Bars), 1)*rowHeight+8
	}
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ` + strconv.Itoa(w) + ` ` + strconv.Itoa(h) +
		`" width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="` + id + `-title ` + id + `-desc">`)
	b.WriteString(`<title id="` + id + `-title">` + esc(c.Title) + `</title>`)
	b.WriteString(`<desc id="` + id + `-desc">` + esc(c.Desc) + `</desc>`)
	if c.Horizontal {
		c.rows(&b)
	} else {
		c.columns(&b)
	}
	b.WriteString(`</svg>`)
	// Safe: built above from escaped text and numbers only.
	return template.HTML(b.String())
}

// columns draws vertical bars, labelling the first, the last and every
// seventh so thirty days stay legible.
func (c Chart) columns(b *strings.Builder) {
	n := len(c.Bars)
	if n == 0 {
		return
	}
	plotH := float64(colHeight - colPadTop - colPadBot)
	slot := float64(colWidth-colPadLeft) / float64(n)
	width := slot * 0.8
	top := c.maxValue()
	base := float64(colHeight - colPadBot)
	b.WriteString(`<line class="axis" x1="` + num(colPadLeft) + `" y1="` + num(base) + `" x2="` + num(colWidth) + `" y2="` + num(base) + `" stroke="currentColor" stroke-width="1"/>`)
	var peak Bar
	for i, bar := range c.Bars {
		v := max(bar.Value, 0)
		hgt := plotH * float64(v) / float64(top)
		x := float64(colPadLeft) + slot*float64(i) + (slot-width)/2
		b.WriteString(`<rect class="bar" x="` + num(x) + `" y="` + num(base-hgt) + `" width="` + num(width) + `" height="` + num(hgt) +
			`" data-value="` + strconv.FormatInt(v, 10) + `" fill="currentColor"><title>` + esc(bar.Label+": "+bar.text()) + `</title></rect>`)
		if i == 0 || i == n-1 || (n-1-i)%7 == 0 {
			b.WriteString(`<text class="label" x="` + num(x+width/2) + `" y="` + num(base+16) + `" text-anchor="middle" font-size="11">` + esc(bar.Label) + `</text>`)
		}
		if bar.Value >= top && peak.Label == "" {
			peak = bar
		}
	}
	if peak.Label != "" {
		b.WriteString(`<text class="peak" x="` + num(colPadLeft) + `" y="14" font-size="12">` + esc("Highest: "+peak.text()+" ("+peak.Label+")") + `</text>`)
	}
}

// rows draws horizontal bars, label at the left, value at the right.
func (c Chart) rows(b *strings.Builder) {
	top := c.maxValue()
	plotW := float64(rowWidth - rowLabel - rowValue)
	for i, bar := range c.Bars {
		v := max(bar.Value, 0)
		wid := plotW * float64(v) / float64(top)
		y := float64(4 + i*rowHeight)
		b.WriteString(`<text class="label" x="` + num(rowLabel-8) + `" y="` + num(y+17) + `" text-anchor="end" font-size="12">` + esc(bar.Label) + `</text>`)
		b.WriteString(`<rect class="bar" x="` + num(rowLabel) + `" y="` + num(y+3) + `" width="` + num(wid) + `" height="` + num(rowHeight-8) +
			`" data-value="` + strconv.FormatInt(v, 10) + `" fill="currentColor"><title>` + esc(bar.Label+": "+bar.text()) + `</title></rect>`)
		b.WriteString(`<text class="value" x="` + num(rowLabel+wid+6) + `" y="` + num(y+17) + `" font-size="12">` + esc(bar.text()) + `</text>`)
	}
}

// SalesCharts returns one column chart per market and currency of r: the
// amount paid each day. Currencies are never drawn on one scale.
func (r *Report) SalesCharts() []Chart {
	var out []Chart
	for _, m := range r.Markets {
		c := Chart{
			ID:    "sales-" + m.Market + "-" + m.Currency,
			Title: "Paid sales per day, " + strings.ToUpper(m.Market) + " (" + m.Currency + ")",
			Desc: "Daily totals of paid orders in market " + strings.ToUpper(m.Market) + " from " + r.From.Format("2 Jan 2006") + " to " +
				r.To.Format("2 Jan 2006") + ": " + m.Total.Format() + " in all, " + strconv.Itoa(m.Orders) + " orders.",
		}
		for i, d := range r.Days {
			c.Bars = append(c.Bars, Bar{Label: d.Format("Jan 2"), Value: m.Daily[i].Amount, Text: m.Daily[i].Format()})
		}
		out = append(out, c)
	}
	return out
}

// StatusChart returns the row chart of orders by status, each row named
// by label (the status as people read it, so the chart and the table
// beside it agree); nil names it by its code.
func (r *Report) StatusChart(label func(status string) string) Chart {
	if label == nil {
		label = func(s string) string { return strings.ReplaceAll(s, "_", " ") }
	}
	c := Chart{ID: "orders-by-status", Title: "Orders by status", Horizontal: true,
		Desc: "How many of the orders placed from " + r.From.Format("2 Jan 2006") + " to " + r.To.Format("2 Jan 2006") + " have each status now."}
	for _, s := range r.ByStatus {
		c.Bars = append(c.Bars, Bar{Label: label(s.Status), Value: int64(s.Orders)})
	}
	return c
}
