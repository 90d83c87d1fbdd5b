package web

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/money"
	"mistore/internal/order"
)

//go:embed templates
var templateFiles embed.FS

// pages holds one parsed template set per page: the layout plus the page.
// A storefront set is never executed itself: each language gets a clone
// whose t, date and number functions speak it (forLang).
type pages struct {
	sets   map[string]*template.Template
	assets *assets
	bufs   sync.Pool
	// gzips reuses the gzip writers of pages compressed per request.
	gzips sync.Pool
	// byLang holds the clones, keyed name + "\x00" + language tag.
	byLang sync.Map
}

// forLang returns page set name in language l, cloning it on first use.
func (p *pages) forLang(name string, l *locale.Lang) (*template.Template, error) {
	key := name + "\x00" + l.Tag
	if t, ok := p.byLang.Load(key); ok {
		return t.(*template.Template), nil
	}
	base, ok := p.sets[name]
	if !ok {
		return nil, fmt.Errorf("no template %s", name)
	}
	t, err := base.Clone()
	if err != nil {
		return nil, fmt.Errorf("template %s in %s: %w", name, l.Tag, err)
	}
	t.Funcs(langFuncs(l))
	actual, _ := p.byLang.LoadOrStore(key, t)
	return actual.(*template.Template), nil
}

// langFuncs are the template functions whose output depends on the
// page's language.
func langFuncs(l *locale.Lang) template.FuncMap {
	return template.FuncMap{
		"t":          l.T,
		"date":       l.Date,
		"shortDate":  l.ShortDate,
		"clock":      l.Clock,
		"num":        func(n int) string { return l.Number(int64(n)) },
		"stateText":  func(s catalog.State) string { return l.T(stateText(s)) },
		"statusText": func(s order.Status) string { return l.T(orderStatusText(s)) },
	}
}

func loadPages(a *assets, english *locale.Lang) (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}, assets: a}
	p.bufs.New = func() any { return new(bytes.Buffer) }
	funcs := template.FuncMap{
		"asset": a.URL,
		// art is the address of a product's Cover or built-in art.
		"art":     func(image string) (string, error) { return a.imagePath(image, mediaCard) },
		"media":   mediaPath,
		"srcset":  srcset,
		"money":   func(m money.Money) string { return m.Format() },
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"add":     func(a, b int) int { return a + b },
		"lower":   strings.ToLower,
		// ogLocale writes a language tag as Open Graph wants it: zh_CN.
		"ogLocale": func(tag string) string { return strings.ReplaceAll(tag, "-", "_") },
		"field": func(name, label, value, errMsg, typ, autocomplete string) formField {
			return formField{Name: name, Label: label, Value: value, Error: errMsg, Type: typ, Autocomplete: autocomplete}
		},
	}
	// The back office is in English: its sets keep these; storefront sets
	// are cloned per language with langFuncs.
	for k, f := range langFuncs(english) {
		funcs[k] = f
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
	// Lang is the language the page is written in; Languages the market's
	// choices for the language switch (more than one only where the
	// market offers a second language).
	Lang       *locale.Lang
	Languages  []langChoice
	Markets    []market.Market
	Categories []catalog.Category
	// Path is the current page's path after the market prefix, so the
	// market switcher can link to the same page elsewhere.
	Path  string
	Query string
	// Here is the page's own address with its query (a search, a page
	// number, an order's token), for the language switch to come back to;
	// empty for an answer to a POST, whose address is no page.
	Here      string
	Canonical string
	// Origin is the store's address (scheme and host) for the absolute
	// URLs search engines and link previews want: canonical, hreflang,
	// Open Graph.
	Origin string
	// OGType and OGImage override the Open Graph defaults ("website",
	// the logo); LD is the page's schema.org data, written as JSON-LD.
	OGType  string
	OGImage string
	// OGImageWidth, OGImageHeight and OGImageAlt describe OGImage when
	// it is a photo, so that a link preview can lay it out at once.
	OGImageWidth, OGImageHeight int
	OGImageAlt                  string
	LD                          map[string]any
	// NoIndex keeps private pages (orders, payment) out of search engines.
	NoIndex bool
	// OneMarket marks a page that exists in its market only (a flash
	// sale): no alternates in other markets are announced, and the market
	// links go to Path, a page every market has.
	OneMarket bool
	// Private pages (cart, checkout, orders, payment) show one shopper's
	// data: never cached by the store, a browser or a proxy.
	Private   bool
	RequestID string
	// Content is the page's own data.
	Content any
}

// cacheKey is key made whole with what every page also depends on: its
// language and the store's address (in canonical and Open Graph URLs).
func (p *page) cacheKey(key string) string {
	if key == "" || p.Lang == nil {
		return key
	}
	return p.Lang.Tag + "|" + p.Origin + "|" + key
}

// render executes a page into a buffer, so a template error becomes a
// clean error page instead of half a page. A 200 with a cache key is kept:
// the key must name everything the page shows (see viewKey), and the next
// request with the same key skips the template. 200s answer conditional
// requests with 304 by the body's ETag.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, key string, data *page) {
	key = data.cacheKey(key)
	if key != "" {
		// A kept page is served for every request with its key: its way
		// back keeps only what the key names (what the page shows), never
		// whatever else one visitor's address carried.
		data.Here = keepParams(data.Here, "q", "category", "sort", "available", "page", "per_page", "variant")
	}
	if key != "" && status == http.StatusOK {
		if e := s.cache.get(key); e != nil {
			e.serve(w, r)
			return
		}
	}
	data.RequestID = requestID(r.Context())
	if len(data.Languages) > 1 {
		// The language comes from a cookie in such a market: a shared
		// cache must keep one copy per cookie.
		w.Header().Add("Vary", "Cookie")
	}
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
	s.writeHTML(w, r, status, cacheControl, buf.Bytes())
}

// keepParams is uri with only the query parameters named.
func keepParams(uri string, names ...string) string {
	p, raw, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return p
	}
	kept := url.Values{}
	for _, n := range names {
		if v, ok := q[n]; ok {
			kept[n] = v
		}
	}
	if len(kept) == 0 {
		return p
	}
	return p + "?" + kept.Encode()
}

// execute runs the layout of template set name with data into a pooled
// buffer, so a template error becomes a clean error page instead of half
// a page. On failure it has answered 500 and returns nil; otherwise the
// caller writes the buffer and gives it back with s.pages.bufs.Put.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, name string, data any, reqID string) *bytes.Buffer {
	t, ok := s.pages.sets[name]
	if p, isPage := data.(*page); ok && isPage && p.Lang != nil {
		var err error
		if t, err = s.pages.forLang(name, p.Lang); err != nil {
			s.log.ErrorContext(r.Context(), "render", slog.String("template", name), slog.Any("err", err))
			http.Error(w, "Internal Server Error (request "+reqID+")", http.StatusInternalServerError)
			return nil
		}
	}
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

// writeHTML sends a rendered page that is not to be kept by caches,
// gzipped when the client takes it: carts, checkouts and the back office
// are rendered per request, so they are compressed per request at the
// fastest level (a cached page is compressed once, at the best).
func (s *Server) writeHTML(w http.ResponseWriter, r *http.Request, status int, cacheControl string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", cacheControl)
	h.Add("Vary", "Accept-Encoding")
	if len(body) > 1024 && acceptsGzip(r) {
		out := s.pages.bufs.Get().(*bytes.Buffer)
		out.Reset()
		defer s.pages.bufs.Put(out)
		zw, _ := s.pages.gzips.Get().(*gzip.Writer)
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
		} else {
			zw.Reset(out)
		}
		zw.Write(body)
		zw.Close()
		s.pages.gzips.Put(zw)
		body = out.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
