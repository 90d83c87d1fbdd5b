package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/order"
)

//go:embed templates
var templateFiles embed.FS

// pages holds one parsed template set per page: the layout plus the page.
type pages struct {
	sets   map[string]*template.Template
	assets *assets
	bufs   sync.Pool
}

func loadPages(a *assets) (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}, assets: a}
	p.bufs.New = func() any { return new(bytes.Buffer) }
	funcs := template.FuncMap{
		"asset": a.URL,
		"art": func(image string) (string, error) {
			if image == "" {
				image = "placeholder"
			}
			return a.URL("art/" + image + ".svg")
		},
		"money":      func(m money.Money) string { return m.Format() },
		"date":       func(t time.Time) string { return t.UTC().Format("January 2, 2006") },
		"isoTime":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stateText":  stateText,
		"statusText": orderStatusText,
		"clock":      func(t time.Time) string { return t.UTC().Format("Jan 2, 2006 15:04") },
		"add":        func(a, b int) int { return a + b },
		"lower":      strings.ToLower,
		"field": func(name, label, value, errMsg, typ, autocomplete string) formField {
			return formField{Name: name, Label: label, Value: value, Error: errMsg, Type: typ, Autocomplete: autocomplete}
		},
	}
	layout, err := fs.ReadFile(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	// Back-office templates (admin_*.html) render inside their own layout.
	adminLayout, err := fs.ReadFile(templateFiles, "templates/admin_layout.html")
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(templateFiles, "templates")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" || name == "admin_layout" || strings.HasSuffix(name, ".partial") {
			continue
		}
		frame := layout
		if strings.HasPrefix(name, "admin_") {
			frame = adminLayout
		}
		body, err := fs.ReadFile(templateFiles, "templates/"+e.Name())
		if err != nil {
			return nil, err
		}
		t := template.New("layout").Funcs(funcs)
		if _, err := t.Parse(string(frame)); err != nil {
			return nil, fmt.Errorf("template layout: %w", err)
		}
		if _, err := t.ParseFS(templateFiles, "templates/*.partial.html"); err != nil {
			return nil, fmt.Errorf("template partials: %w", err)
		}
		if _, err := t.New(e.Name()).Parse(string(body)); err != nil {
			return nil, fmt.Errorf("template %s: %w", e.Name(), err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// stateText is the pill text of an availability state.
func stateText(s catalog.State) string {
	switch s {
	case catalog.Available:
		return "In stock"
	case catalog.OutOfStock:
		return "Out of stock"
	case catalog.ComingSoon:
		return "Coming soon"
	case catalog.NotSold:
		return "Not sold here"
	}
	return string(s)
}

// formField is one labelled input of a form, with its error.
type formField struct {
	Name, Label, Value, Error, Type, Autocomplete string
}

// orderStatusText is how an order status reads to its customer.
func orderStatusText(s order.Status) string {
	switch s {
	case order.PendingPayment:
		return "Waiting for payment"
	case order.Paid:
		return "Paid"
	case order.Fulfilled:
		return "Shipped"
	case order.Delivered:
		return "Delivered"
	case order.Cancelled:
		return "Cancelled"
	case order.Refunded:
		return "Refunded"
	case order.PartiallyRefunded:
		return "Partly refunded"
	}
	return string(s)
}

// page is what every storefront template gets.
type page struct {
	Title       string
	Description string
	Market      market.Market
	Markets     []market.Market
	Categories  []catalog.Category
	// Path is the current page's path after the market prefix, so the
	// market switcher can link to the same page elsewhere.
	Path      string
	Query     string
	Canonical string
	// NoIndex keeps private pages (orders, payment) out of search engines.
	NoIndex bool
	// Private pages (cart, checkout, orders, payment) show one shopper's
	// data: never cached by the store, a browser or a proxy.
	Private   bool
	RequestID string
	// Content is the page's own data.
	Content any
}

// render executes a page into a buffer, so a template error becomes a
// clean error page instead of half a page. A 200 with a cache key is kept:
// the key must name everything the page shows (see viewKey), and the next
// request with the same key skips the template. 200s answer conditional
// requests with 304 by the body's ETag.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, key string, data *page) {
	if key != "" && status == http.StatusOK {
		if e := s.cache.get(key); e != nil {
			e.serve(w, r)
			return
		}
	}
	data.RequestID = requestID(r.Context())
	buf := s.execute(w, r, name, data, data.RequestID)
	if buf == nil {
		return
	}
	defer s.pages.bufs.Put(buf)
	const contentType = "text/html; charset=utf-8"
	if status == http.StatusOK && !data.Private {
		if key != "" {
			s.cache.put(key, buf.Bytes(), contentType).serve(w, r)
		} else {
			(&cachedBody{body: buf.Bytes(), etag: etagOf(buf.Bytes()), contentType: contentType}).serve(w, r)
		}
		return
	}
	cacheControl := "no-store"
	if data.Private {
		cacheControl = "private, no-store"
	}
	writeHTML(w, status, cacheControl, buf.Bytes())
}

// execute runs the layout of template set name with data into a pooled
// buffer, so a template error becomes a clean error page instead of half
// a page. On failure it has answered 500 and returns nil; otherwise the
// caller writes the buffer and gives it back with s.pages.bufs.Put.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, name string, data any, reqID string) *bytes.Buffer {
	t, ok := s.pages.sets[name]
	if !ok {
		s.log.ErrorContext(r.Context(), "no such template", slog.String("template", name))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return nil
	}
	buf := s.pages.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, "layout", data); err != nil {
		s.pages.bufs.Put(buf)
		s.log.ErrorContext(r.Context(), "render", slog.String("template", name), slog.Any("err", err))
		http.Error(w, "Internal Server Error (request "+reqID+")", http.StatusInternalServerError)
		return nil
	}
	return buf
}

// writeHTML sends a rendered page that is not to be kept by caches.
func writeHTML(w http.ResponseWriter, status int, cacheControl string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", cacheControl)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
