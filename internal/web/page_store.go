package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/locale"
	"mistore/internal/market"
	"mistore/internal/ratelimit"
)

// marketCookie remembers the market a visitor chose in the switcher.
const marketCookie = "mistore_market"

// rootRedirect sends a visitor to their market: the one they chose before,
// else the one their browser's language suggests, else the US store.
func (s *Server) rootRedirect(w http.ResponseWriter, r *http.Request) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	code := "us"
	if c, err := r.Cookie(marketCookie); err == nil {
		if _, err := set.Get(c.Value); err == nil {
			code = c.Value
		}
	} else if m, ok := marketFromLanguage(set, r.Header.Get("Accept-Language")); ok {
		code = m
	}
	w.Header().Set("Vary", "Accept-Language, Cookie")
	localRedirect(w, r, "/"+code+"/", http.StatusFound)
}

// marketFromLanguage picks the market of the first language tag with a
// region the store serves, e.g. "zh-CN" -> cn, "en-IN" -> in.
func marketFromLanguage(set *market.Set, header string) (string, bool) {
	for _, part := range strings.Split(header, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		_, region, ok := strings.Cut(tag, "-")
		if !ok {
			continue
		}
		region = strings.ToUpper(region)
		for _, m := range set.Markets {
			for _, cc := range m.CountryCodes {
				if cc == region {
					return m.Code, true
				}
			}
		}
	}
	return "", false
}

// marketRedirect turns /us into /us/.
func (s *Server) marketRedirect(w http.ResponseWriter, r *http.Request) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	if _, err := set.Get(r.PathValue("market")); err != nil {
		s.pageNotFound(w, r)
		return
	}
	localRedirect(w, r, "/"+r.PathValue("market")+"/", http.StatusMovedPermanently)
}

// newPage fills what every storefront page shows for market code.
func (s *Server) newPage(r *http.Request, code, path string) (*page, error) {
	set, err := s.catalog.Markets(r.Context())
	if err != nil {
		return nil, err
	}
	m, err := set.Get(code)
	if err != nil {
		return nil, err
	}
	cats, err := s.catalog.Categories(r.Context())
	if err != nil {
		return nil, err
	}
	p := &page{Market: m, Markets: set.Markets, Categories: cats, Path: path}
	p.Canonical = "/" + m.Code + path
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		p.Here = r.URL.RequestURI()
	}
	p.Lang, p.Languages = s.pageLanguage(r, m)
	p.Origin = s.siteURL(r)
	return p, nil
}

// requestLang is the language of the pages of the market r's path names,
// for a message written before a redirect to one of them.
func (s *Server) requestLang(r *http.Request) *locale.Lang {
	if set, err := s.catalog.Markets(r.Context()); err == nil {
		if m, err := set.Get(r.PathValue("market")); err == nil {
			l, _ := s.pageLanguage(r, m)
			return l
		}
	}
	return s.locales.Lang("en-US")
}

type homeContent struct {
	Featured []catalog.View
	// Cards are Featured with their ratings (community_cards.go).
	Cards []productCard
}

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	// Views first, then the layout: the layout's snapshot is then at least
	// as new as the key's revision, so a cached page is never older than
	// its key says.
	list, err := s.catalog.List(r.Context(), code, catalog.ListQuery{Featured: true, PerPage: 8})
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p, err := s.newPage(r, code, "/")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Title = "Mistore " + p.Lang.T(p.Market.Name)
	p.Description = p.Lang.T("The official Mistore shop for %s: fitness bands, power banks, audio and accessories.", p.Lang.T(p.Market.Name))
	featured := localize(p.Lang, list.Products)
	cards, ratings, err := s.productCards(r.Context(), featured)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p.Content = homeContent{Featured: featured, Cards: cards}
	s.render(w, r, http.StatusOK, "home", pageKey("home", code, list.Revision, ratings, list.Products...), p)
}

// pageKey builds a cache key for a storefront page from everything it
// shows: template, market, catalog revision, request parameters and the
// availability of its products.
func pageKey(name, market string, revision int64, params string, views ...catalog.View) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('|')
	b.WriteString(market)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(revision, 10))
	b.WriteByte('|')
	b.WriteString(params)
	b.WriteByte('|')
	viewKey(&b, views...)
	return b.String()
}

type productsContent struct {
	Query        string
	Category     string
	CategoryName string
	// Sort is the list's order (catalog.SortPriceAsc, ...), "" the default;
	// Available shows only what can be bought now.
	Sort      string
	Available bool
	// AllURL and CategoryURLs are the filter links, keeping the search,
	// the order and Available.
	AllURL       string
	CategoryURLs map[string]string
	List         *catalog.ListResult
	// Cards are List's products with their ratings (community_cards.go).
	Cards      []productCard
	Pages      []pageLink
	Prev, Next string
}

type pageLink struct {
	Number  int
	URL     string
	Current bool
}

func (s *Server) pageProducts(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("market")
	cats, err := s.catalog.Categories(r.Context())
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	q, err := listQuery(r, cats)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	list, err := s.catalog.List(r.Context(), code, q)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p, err := s.newPage(r, code, "/products")
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c := productsContent{Query: q.Q, Category: q.Category, Sort: q.Sort, Available: q.Available, List: list, CategoryURLs: map[string]string{}}
	p.Title = p.Lang.T("All products")
	for _, cat := range p.Categories {
		if cat.Slug == q.Category {
			c.CategoryName = cat.Name
			p.Title = p.Lang.T(cat.Name)
		}
	}
	if q.Q != "" {
		p.Title = p.Lang.T("Search: %s", q.Q)
	}
	p.Query = q.Q
	p.Canonical = "/" + code + "/products"
	if q.Category != "" {
		p.Canonical += "?category=" + url.QueryEscape(q.Category)
	}
	listURL := func(category string, n int) string {
		v := url.Values{}
		if q.Q != "" {
			v.Set("q", q.Q)
		}
		if category != "" {
			v.Set("category", category)
		}
		if q.Sort != "" {
			v.Set("sort", q.Sort)
		}
		if q.Available {
			v.Set("available", "true")
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if q.PerPage != catalog.DefaultPerPage {
			v.Set("per_page", strconv.Itoa(q.PerPage))
		}
		if len(v) == 0 {
			return "/" + code + "/products"
		}
		return "/" + code + "/products?" + v.Encode()
	}
	pageURL := func(n int) string { return listURL(q.Category, n) }
	c.AllURL = listURL("", 1)
	for _, cat := range p.Categories {
		c.CategoryURLs[cat.Slug] = listURL(cat.Slug, 1)
	}
	last := (list.Total + list.PerPage - 1) / list.PerPage
	for n := 1; n <= last && last > 1; n++ {
		c.Pages = append(c.Pages, pageLink{Number: n, URL: pageURL(n), Current: n == list.Page})
	}
	if list.Page > 1 && list.Page <= last {
		c.Prev = pageURL(list.Page - 1)
	}
	if list.Page < last {
		c.Next = pageURL(list.Page + 1)
	}
	cards, ratings, err := s.productCards(r.Context(), localize(p.Lang, list.Products))
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c.Cards = cards
	p.Content = c
	params := fmt.Sprintf("%q|%s|%s|%t|%d|%d|%d", q.Q, q.Category, q.Sort, q.Available, q.Page, q.PerPage, list.Total) + ratings
	s.render(w, r, http.StatusOK, "products", pageKey("products", code, list.Revision, params, list.Products...), p)
}

// listQuery reads the list parameters shared by the page and the API.
func listQuery(r *http.Request, cats []catalog.Category) (catalog.ListQuery, error) {
	var q catalog.ListQuery
	var err error
	if q.Page, err = intParam(r, "page", 1, 1, catalog.MaxPage); err != nil {
		return q, err
	}
	if q.PerPage, err = intParam(r, "per_page", catalog.DefaultPerPage, 1, catalog.MaxPerPage); err != nil {
		return q, err
	}
	v := r.URL.Query()
	q.Q = strings.TrimSpace(v.Get("q"))
	if len(q.Q) > catalog.MaxQueryLength {
		return q, badParam("q", "q must be at most %d characters", catalog.MaxQueryLength)
	}
	switch v.Get("available") {
	case "", "0", "false":
	case "1", "true":
		q.Available = true
	default:
		return q, badParam("available", "available is true or false")
	}
	switch q.Sort = v.Get("sort"); q.Sort {
	case catalog.SortDefault, catalog.SortPriceAsc, catalog.SortPriceDesc:
	default:
		return q, badParam("sort", "sort is %s or %s, or empty for the default order", catalog.SortPriceAsc, catalog.SortPriceDesc)
	}
	q.Category = v.Get("category")
	if q.Category != "" {
		known := false
		for _, c := range cats {
			known = known || c.Slug == q.Category
		}
		if !known {
			return q, badParam("category", "there is no category %q", q.Category)
		}
	}
	return q, nil
}

type productContent struct {
	View     *catalog.View
	Selected *catalog.VariantView
	// Photo is the photo shown large (the selected variant's, else the
	// cover), Photos the others; Photo is nil when the product has none.
	Photo  *catalog.Photo
	Photos []catalog.Photo
	// Reason and SelectedReason are the availability reasons of the
	// product and of the selected variant, in the page's language.
	Reason, SelectedReason string
	// Waitlist is the "tell me when" box, set when the product cannot be
	// bought in the market (waitlist_page.go).
	Waitlist *waitlistBox
	// Community is the product's comments and reviews (community_page.go).
	Community *communityBox
	// Related are other products of the same category, as cards.
	Related []productCard
}

func (s *Server) pageProduct(w http.ResponseWriter, r *http.Request) {
	s.productPage(w, r, http.StatusOK)
}

// productPage renders the product page with status: 200, or the status
// of a refused community form (community_page.go) shown again with its
// message. Its waitlist and community boxes decide whether the page is
// personal (Private, never cached); an anonymous page is cached under a
// key that holds its thread's state, checked before the thread is read.
func (s *Server) productPage(w http.ResponseWriter, r *http.Request, status int) {
	code, slug := r.PathValue("market"), r.PathValue("slug")
	v, err := s.catalog.Product(r.Context(), code, slug)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	p, err := s.newPage(r, code, "/products/"+slug)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	// The shared view becomes a copy in the page's language.
	v = v.In(p.Lang.Texts)
	c := productContent{View: v}
	if len(v.Variants) > 0 {
		c.Selected = &v.Variants[0]
		// The first purchasable variant is the sensible default.
		for i := range v.Variants {
			if v.Variants[i].Availability.Purchasable() {
				c.Selected = &v.Variants[i]
				break
			}
		}
		// An unknown ?variant= (an old link) shows the default instead.
		if sku := r.URL.Query().Get("variant"); sku != "" {
			for i := range v.Variants {
				if v.Variants[i].SKU == sku {
					c.Selected = &v.Variants[i]
				}
			}
		}
	}
	p.Title = v.Name
	p.Description = v.Description
	c.Reason = p.Lang.Say(v.Availability.Why)
	selected := ""
	if c.Selected != nil {
		selected = c.Selected.SKU
		c.SelectedReason = p.Lang.Say(c.Selected.Availability.Why)
	}
	if ph, ok := v.PhotoFor(selected); ok {
		c.Photo = &ph
		for _, o := range v.Photos {
			if o.File != ph.File {
				c.Photos = append(c.Photos, o)
			}
		}
	}
	// The waitlist box first: it is cheap, and it marks the page Private
	// when it shows anything personal.
	if c.Waitlist, err = s.productWaitlist(r, p, v); err != nil {
		s.pageFail(w, r, err)
		return
	}
	r, cv, err := s.communityRequest(w, r, v)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	rel, err := s.related(r.Context(), p.Lang, v)
	if err != nil {
		s.pageFail(w, r, err)
		return
	}
	c.Related = rel.cards
	key := ""
	if !p.Private && !cv.private && status == http.StatusOK {
		key = pageKey("product", code, v.Revision, selected+cv.keyPart+rel.key, *v)
		if e := s.cache.get(p.cacheKey(key)); e != nil {
			e.serve(w, r)
			return
		}
	}
	if c.Community, err = s.productCommunity(r, p, v); err != nil {
		s.pageFail(w, r, err)
		return
	}
	if p.Private {
		key = ""
	}
	p.LD, p.OGType = s.productLD(p, v, c.Community), "product"
	s.ogImage(p, v.Product)
	p.Content = c
	s.render(w, r, status, "product", key, p)
}

type errorContent struct {
	Status  int
	Heading string
	Message string
}

// pageFail renders an error page fitting err.
func (s *Server) pageFail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	retryAfter(w, err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "page error", "path", r.URL.Path, "err", err)
	}
	heading := "Something went wrong"
	switch status {
	case http.StatusNotFound:
		heading = "Page not found"
		if errors.Is(err, catalog.ErrNotFound) {
			heading = "Product not found"
		}
	case http.StatusBadRequest:
		heading = "That request did not make sense"
	case http.StatusTooManyRequests:
		heading = "Slow down a moment"
	case http.StatusServiceUnavailable:
		heading = "The store is busy"
	}
	// A parameter's message names what the visitor typed, so no catalog
	// has it: a translated page says which parameter instead.
	var instead locale.Msg
	var pe *paramError
	if errors.As(err, &pe) {
		instead = locale.M("One of this address's parameters (%s) is not valid.", pe.field)
	}
	s.errorPage(w, r, status, heading, body.Message, instead)
}

// pageNotFound renders the 404 page.
func (s *Server) pageNotFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at this address. Try the search, or start from the home page.")
}

// renderError shows an error page in the market the URL names, or the US
// store when it names none. heading and msg are English, as callers
// write them: the page translates them into its language.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.errorPage(w, r, status, heading, msg, locale.Msg{})
}

// errorPage is renderError, showing instead (when set) rather than msg
// in a language that has no translation of msg.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string, instead locale.Msg) {
	code := "us"
	if seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); seg != "" {
		if set, err := s.catalog.Markets(r.Context()); err == nil {
			if _, err := set.Get(seg); err == nil {
				code = seg
			}
		}
	}
	p, err := s.newPage(r, code, "/")
	if err != nil {
		// The catalog itself is unreachable: a bare page is all we can do.
		http.Error(w, heading+": "+msg, status)
		return
	}
	heading = pageText(p.Lang, heading)
	if !instead.IsZero() && !s.locales.Has(p.Lang.Tag, msg) {
		msg = p.Lang.Say(instead)
	} else {
		msg = pageText(p.Lang, msg)
	}
	p.Title = heading
	p.Content = errorContent{Status: status, Heading: heading, Message: msg}
	s.render(w, r, status, "error", "", p)
}

// pageText translates an English sentence that comes to a page as text,
// such as an error's message shared with the API. A sentence with a % in
// it was formatted already (it may hold what a visitor typed): it is not
// a key and is shown as it is.
func pageText(l *locale.Lang, s string) string {
	if s == "" || strings.Contains(s, "%") {
		return s
	}
	return l.T(s)
}

// pageErrorText is the sentence a page shows for a refused request: the
// API's message in the page's language, with the waits of rate limits
// said in it too.
func pageErrorText(l *locale.Lang, err error) string {
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		wait := waitWords(l, limited.RetryAfter)
		if postingLimitMessage(limited.Rule, limited.RetryAfter) != "" {
			return l.T("You are posting too fast. Wait %s, then try again.", wait)
		}
		return l.T("Too many attempts; try again in %s.", wait)
	}
	_, body := classify(err)
	return pageText(l, body.Message)
}

// waitWords is waitText in language l.
func waitWords(l *locale.Lang, d time.Duration) string {
	switch secs := int(d.Round(time.Second) / time.Second); {
	case secs <= 1:
		return l.T("a second")
	case secs < 120:
		return l.T("%d seconds", secs)
	default:
		return l.T("%d minutes", (secs+59)/60)
	}
}
