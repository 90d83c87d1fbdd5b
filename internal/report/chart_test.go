package report_test

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"mistore/internal/money"
	"mistore/internal/report"
)

// svgBar is a drawn bar as the XML says.
type svgBar struct {
	height, width float64
	value         int64
	title         string
}

// parseSVG checks that svg is well-formed XML and returns its bars, the
// root's attributes and every text it shows.
func parseSVG(t *testing.T, svg string) ([]svgBar, map[string]string, []string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	var bars []svgBar
	root := map[string]string{}
	var texts []string
	var stack []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			stack = append(stack, el.Name.Local)
			attrs := map[string]string{}
			for _, a := range el.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if depth == 1 {
				if el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root %v", el.Name)
				}
				root = attrs
			}
			if el.Name.Local == "rect" && attrs["class"] == "bar" {
				h, _ := strconv.ParseFloat(attrs["height"], 64)
				w, _ := strconv.ParseFloat(attrs["width"], 64)
				v, _ := strconv.ParseInt(attrs["data-value"], 10, 64)
				bars = append(bars, svgBar{height: h, width: w, value: v})
			}
		case xml.EndElement:
			depth--
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if s := strings.TrimSpace(string(el)); s != "" {
				texts = append(texts, s)
				if len(stack) >= 2 && stack[len(stack)-1] == "title" && stack[len(stack)-2] == "rect" {
					bars[len(bars)-1].title = s
				}
			}
		}
	}
	if depth != 0 {
		t.Fatal("unbalanced")
	}
	return bars, root, texts
}

func TestChartColumnsProportionalAndEscaped(t *testing.T) {
	hostile := `</title><script>alert("x")</script>&amp;'`
	c := report.Chart{ID: `sales"><x`, Title: "Sales " + hostile, Desc: "Desc " + hostile, Bars: []report.Bar{
		{Label: "Mar 1", Value: 1000, Text: "$10.00"},
		{Label: hostile, Value: 4000, Text: "$40.00"},
		{Label: "Mar 3", Value: 0},
		{Label: "Mar 4", Value: 2500},
		{Label: "Mar 5", Value: -5},
	}}
	svg := string(c.SVG())
	if strings.Contains(svg, "<script") {
		t.Fatalf("unescaped text in the SVG: %s", svg)
	}
	bars, root, texts := parseSVG(t, svg)
	if root["role"] != "img" || root["aria-labelledby"] != "salesx-title salesx-desc" {
		t.Errorf("root attributes %v", root)
	}
	if !strings.Contains(svg, `<title id="salesx-title">`) || !strings.Contains(svg, `<desc id="salesx-desc">`) {
		t.Errorf("title and desc ids: %s", svg)
	}
	if texts[0] != "Sales "+hostile || texts[1] != "Desc "+hostile {
		t.Errorf("title/desc read back as %q, %q", texts[0], texts[1])
	}
	if len(bars) != 5 {
		t.Fatalf("%d bars", len(bars))
	}
	tallest := bars[1].height
	if tallest <= 0 {
		t.Fatal("the largest bar has no height")
	}
	for i, b := range bars {
		want := float64(max(c.Bars[i].Value, 0)) / 4000 * tallest
		if math.Abs(b.height-want) > 0.01 {
			t.Errorf("bar %d: height %.2f, want %.2f (proportional to %d)", i, b.height, want, c.Bars[i].Value)
		}
		if b.width != bars[0].width {
			t.Errorf("bar %d: width %.2f, others %.2f", i, b.width, bars[0].width)
		}
	}
	if bars[1].title != hostile+": $40.00" || bars[3].title != "Mar 4: 2500" {
		t.Errorf("bar titles %q, %q", bars[1].title, bars[3].title)
	}
}

func TestChartRowsAndEmpty(t *testing.T) {
	c := report.Chart{ID: "st", Title: "Orders by status", Horizontal: true, Bars: []report.Bar{{Label: "paid", Value: 3}, {Label: "cancelled", Value: 1}, {Label: "refunded"}}}
	bars, _, texts := parseSVG(t, string(c.SVG()))
	if len(bars) != 3 || math.Abs(bars[1].width*3-bars[0].width) > 0.01 || bars[2].width != 0 {
		t.Errorf("row widths %+v", bars)
	}
	if !strings.Contains(strings.Join(texts, "|"), "paid|paid: 3|3") {
		t.Errorf("row texts %q", texts)
	}
	for _, empty := range []report.Chart{{}, {Horizontal: true}, {Bars: []report.Bar{{Label: "a"}}}} {
		if bars, _, _ := parseSVG(t, string(empty.SVG())); len(bars) != len(empty.Bars) {
			t.Errorf("empty chart bars %+v", bars)
		}
	}
}

func TestReportCharts(t *testing.T) {
	r := &report.Report{From: now.AddDate(0, 0, -1), To: now, Days: []time.Time{now.AddDate(0, 0, -1), now},
		Markets: []report.MarketSales{{Market: "us", Currency: "USD", Daily: []money.Money{money.New(100, "USD"), money.New(300, "USD")},
			Total: money.New(400, "USD"), Orders: 2}},
		ByStatus: []report.StatusCount{{Status: "pending_payment", Orders: 2}}}
	charts := r.SalesCharts()
	if len(charts) != 1 {
		t.Fatal(len(charts))
	}
	bars, _, _ := parseSVG(t, string(charts[0].SVG()))
	if len(bars) != 2 || bars[0].title != "Mar 14: $1.00" || math.Abs(bars[0].height*3-bars[1].height) > 0.01 {
		t.Errorf("sales bars %+v", bars)
	}
	bars, _, _ = parseSVG(t, string(r.StatusChart(nil).SVG()))
	if len(bars) != 1 || bars[0].title != "pending payment: 2" {
		t.Errorf("status bars %+v", bars)
	}
}
