package main

// Browser tests drive the real storefront in headless Chromium through the
// Chrome DevTools Protocol (chromedp). They find the browser with
// findChromium and skip when there is none, except under
// MISTORE_REQUIRE_ALL=1, where a missing browser fails the test.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browserTimeout bounds one browser test: the browser is killed when it
// ends, and any action still waiting fails with context.DeadlineExceeded.
const browserTimeout = 60 * time.Second

// requireAll reports whether every test must run: under
// MISTORE_REQUIRE_ALL=1 (CI) a skipped test is a failure.
func requireAll() bool { return os.Getenv("MISTORE_REQUIRE_ALL") == "1" }

// findChromium returns the path of the browser to drive: $MISTORE_CHROMIUM,
// else the first of chromium, chromium-browser and google-chrome on PATH.
// With none it skips t, or fails it under MISTORE_REQUIRE_ALL=1.
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MISTORE_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("MISTORE_CHROMIUM=%q is not an executable browser: %v", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const msg = "no Chromium found: install the Debian package chromium"
	if requireAll() {
		t.Fatal(msg + " (or set MISTORE_CHROMIUM); MISTORE_REQUIRE_ALL=1 forbids skipping the browser tests")
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a fresh headless Chromium for t and returns a chromedp
// context for one tab in it. The browser has its own profile in
// t.TempDir(), lives at most browserTimeout, and is closed when t ends. Its
// output and chromedp's errors are logged only if t fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return startBrowser(t, browserTimeout)
}

// startBrowser is newBrowser with a browser that lives at most timeout.
func startBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	if testing.Short() && !requireAll() {
		t.Skip("browser test skipped in -short mode: it starts Chromium (set MISTORE_REQUIRE_ALL=1 to force it)")
	}
	path := findChromium(t)
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)

	out := &lockedBuffer{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// The first Run binds the browser's life to this context, so the
	// timeout covers the whole test, the browser included.
	timeoutCtx, cancelTimeout := context.WithTimeout(allocCtx, timeout)
	ctx, cancelTab := chromedp.NewContext(timeoutCtx,
		chromedp.WithErrorf(out.logf),
		chromedp.WithLogf(out.logf),
	)
	t.Cleanup(func() {
		cancelTab() // closes the browser gracefully
		cancelTimeout()
		cancelAlloc() // waits for the browser process to exit
		if t.Failed() {
			if s := out.String(); s != "" {
				t.Logf("browser output and chromedp errors (%s):\n%s", path, tail(s, 8000))
			}
		}
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now, so a broken install fails here
		t.Fatalf("start %s: %v\n%s", path, err, tail(out.String(), 4000))
	}
	return ctx
}

// jsMode says whether a tab runs the pages' own scripts. Every storefront
// page works without JavaScript (the flash-sale pages enhance themselves
// when it runs), so a journey that applies to both runs in both, as the
// subtests js and nojs.
type jsMode int

const (
	jsOn jsMode = iota
	jsOff
)

// String is the subtest's name.
func (m jsMode) String() string {
	if m == jsOff {
		return "nojs"
	}
	return "js"
}

// email is addr for this mode: as it is with scripts on, tagged with +nojs
// without, so that both runs of a journey can share one store.
func (m jsMode) email(addr string) string {
	if m == jsOn {
		return addr
	}
	local, domain, _ := strings.Cut(addr, "@")
	return local + "+nojs@" + domain
}

// modeKey holds a tab's jsMode in its context.
type modeKey struct{}

// modeOf is the jsMode of the tab ctx: jsOn unless inModes made it
// otherwise.
func modeOf(ctx context.Context) jsMode {
	m, _ := ctx.Value(modeKey{}).(jsMode)
	return m
}

// inModes runs journey as two subtests, js and then nojs, each in a tab
// of its own (its own cookies, as two shoppers have) of one browser
// started for t, and returns the browser for more tabs (newTab). The two
// runs share the store, so the second must not depend on what the first
// did to it (each has its own email address: jsMode.email). The nojs tab
// has the pages' scripts switched off before its first page, as a shopper
// who blocks JavaScript has them: <noscript> shows and inline and external
// scripts never run, while the test's own queries through DevTools still
// work.
//
// The runs go one after the other: side by side they took no less time
// on two cores (Chromium and the store keep both busy), and they would
// make the screenshots depend on which run got where first.
func inModes(t *testing.T, journey func(t *testing.T, ctx context.Context, mode jsMode)) context.Context {
	t.Helper()
	browser := startBrowser(t, 2*browserTimeout)
	for _, mode := range []jsMode{jsOn, jsOff} {
		t.Run(mode.String(), func(t *testing.T) {
			journey(t, newTab(t, browser, mode), mode)
		})
	}
	return browser
}

// newTab opens a tab in browser, in a browser context of its own, closed
// when t ends; with jsOff the pages' scripts are switched off in it. The
// tab logs its requests (see requestsOf).
func newTab(t *testing.T, browser context.Context, mode jsMode) context.Context {
	t.Helper()
	log := &requestLog{}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(log.listen))
	t.Cleanup(cancel)
	ctx = context.WithValue(ctx, modeKey{}, mode)
	ctx = context.WithValue(ctx, requestLogKey{}, log)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	if mode == jsOff {
		disableScripts(t, ctx)
	}
	return ctx
}

// disableScripts switches the pages' scripts off in the tab ctx for the
// rest of its life, and proves it on a page whose script would retitle it.
func disableScripts(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))
	if err != nil {
		t.Fatalf("switch scripts off: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<title>off</title><script>document.title="on"</script>`)); err != nil {
		t.Fatalf("open the script probe: %v", err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Title()); err != nil || got != "off" {
		t.Fatalf("with scripts switched off a page's script still ran: title %q (%v)", got, err)
	}
}

// requestLog records the requests a tab sends, as "METHOD /path", to tell
// what a page's script did (a claim through the JSON API) from what its
// forms did.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

// requestLogKey holds a tab's *requestLog in its context.
type requestLogKey struct{}

func (l *requestLog) listen(ev any) {
	e, ok := ev.(*network.EventRequestWillBeSent)
	if !ok {
		return
	}
	path := e.Request.URL
	if u, err := url.Parse(path); err == nil {
		path = u.Path
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, e.Request.Method+" "+path)
}

// requestsOf returns the requests the tab ctx (made by newTab) has sent
// so far, oldest first.
func requestsOf(t *testing.T, ctx context.Context) []string {
	t.Helper()
	l, ok := ctx.Value(requestLogKey{}).(*requestLog)
	if !ok {
		t.Fatal("the tab logs no requests: open it with newTab")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// lockedBuffer collects the browser's output and chromedp's log lines from
// several goroutines, to show them when a test fails.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString("chromedp: ")
	b.buf.WriteString(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
	b.buf.WriteByte('\n')
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBrowserStore starts the whole store in-process on 127.0.0.1:0 with
// a fresh SQLite file and the demo catalog, and returns its base URL.
func startBrowserStore(t *testing.T) string {
	t.Helper()
	m, _ := startDemoStore(t)
	return m.URL()
}

// startDemoStore is startBrowserStore's store, with its configuration (the
// database file, for commands run beside it).
func startDemoStore(t *testing.T) (*Main, Config) {
	t.Helper()
	cfg := defaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = filepath.Join(t.TempDir(), "mistore.db")
	cfg.Demo = true
	cfg.ShutdownTimeout = 5 * time.Second
	m := NewMain(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatalf("start the store: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	return m, cfg
}

// ownerPassword is the password of the owner startStoreWithOwner makes.
const ownerPassword = "correct horse battery staple"

// startStoreWithOwner is startDemoStore with a first owner,
// owner@example.com, made on the command line as the README says.
func startStoreWithOwner(t *testing.T) (*Main, Config) {
	t.Helper()
	m, cfg := startDemoStore(t)
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"staff", "create", "--email", "owner@example.com", "--role", "owner", "--name", "Olive Owner", "--db", cfg.DB},
		func(k string) string { return map[string]string{"USER": "test"}[k] }, strings.NewReader(ownerPassword+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("staff create: %s", errOut.String())
	}
	return m, cfg
}

// pageText is the visible text of the current page, for failure messages.
func pageText(ctx context.Context) string {
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		return "(page text unavailable: " + err.Error() + ")"
	}
	return "page " + loc + ":\n" + tail(s, 3000)
}

// texts returns the visible text of every element matching css on the
// current page; none is no error. It does not wait for the elements, so use
// it once the page has loaded.
func texts(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	sel, err := json.Marshal(css)
	if err != nil {
		t.Fatal(err)
	}
	// One evaluation, not "find nodes, then read each": a page replaced
	// between the two steps would leave the second waiting for nodes that
	// are gone. Like chromedp.Text, an element with no layout box has no
	// visible text.
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(`+string(sel)+`),
		e => e.offsetWidth || e.offsetHeight || e.getClientRects().length ? e.innerText.trim() : "")`))
	if err != nil {
		t.Fatalf("query %q: %v\n%s", css, err, pageText(ctx))
	}
	return out
}

// oneText returns the text of the first element matching css, failing t
// when there is none.
func oneText(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	all := texts(t, ctx, css)
	if len(all) == 0 {
		t.Fatalf("no element matches %q\n%s", css, pageText(ctx))
	}
	return all[0]
}

// visit opens url in the tab, waits for the page to load and fails t
// unless the server answered wantStatus.
func visit(t *testing.T, ctx context.Context, url string, wantStatus int64) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if resp == nil || resp.Status != wantStatus {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("open %s: HTTP %d, want %d\n%s", url, status, wantStatus, pageText(ctx))
	}
}

var usdPrice = regexp.MustCompile(`\$\d+\.\d\d`)

// TestBrowserBrowseAndNotSold walks the storefront like a shopper: home
// page, search, a product with its price, then a phone that is not
// certified for the United States (with its resellers and its waitlist)
// and the same phone in China, where it is sold, in Chinese (and in
// English with the language switch). With and without JavaScript, on one
// store.
func TestBrowserBrowseAndNotSold(t *testing.T) {
	base := startBrowserStore(t)
	inModes(t, func(t *testing.T, ctx context.Context, mode jsMode) {
		browseAndNotSold(t, ctx, base, mode)
	})
}

func browseAndNotSold(t *testing.T, ctx context.Context, base string, mode jsMode) {
	// 1. The home page of the US store.
	visit(t, ctx, base+"/us/", 200)
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("read the title: %v", err)
	}
	if !strings.Contains(title, "Mistore") {
		t.Fatalf("home page title = %q, want it to contain %q\n%s", title, "Mistore", pageText(ctx))
	}
	if lang := htmlLang(t, ctx); !strings.HasPrefix(lang, "en") {
		t.Errorf("the US home page is in %q, want English", lang)
	}
	docShot(t, ctx, "home", desktopWidth)
	docShot(t, ctx, "phone-home", phoneWidth)

	// 2. Search with the header form: type, press Enter (plain HTML form).
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "power bank"),
	); err != nil {
		t.Fatalf("type into the search box #q: %v\n%s", err, pageText(ctx))
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.ID("q"), kb.Enter))
	if err != nil {
		t.Fatalf("submit the search form: %v\n%s", err, pageText(ctx))
	}
	if resp.Status != 200 {
		t.Fatalf("search results: HTTP %d, want 200\n%s", resp.Status, pageText(ctx))
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("read the location: %v", err)
	}
	if !strings.Contains(loc, "/us/products?q=") {
		t.Fatalf("after the search the location is %q, want it to contain /us/products?q=\n%s", loc, pageText(ctx))
	}
	if q, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("q"))); err != nil || q != "power bank" {
		t.Errorf("results page search box = %q (err %v), want it to keep %q", q, err, "power bank")
	}
	cards, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("li.card a"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatalf("query the result cards: %v\n%s", err, pageText(ctx))
	}
	if len(cards) == 0 {
		t.Fatalf("search for %q shows no li.card link\n%s", "power bank", pageText(ctx))
	}
	var pick *chromedp.Node
	var cardTexts []string
	for _, c := range cards {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.NodeIDs{c.NodeID}))
		if err != nil {
			t.Fatalf("read a card: %v", err)
		}
		cardTexts = append(cardTexts, strings.Join(strings.Fields(s), " "))
		if pick == nil && strings.Contains(s, "Power Bank") {
			pick = c
		}
	}
	if pick == nil {
		t.Fatalf("no result card mentions %q; cards:\n  %s", "Power Bank", strings.Join(cardTexts, "\n  "))
	}
	href := pick.AttributeValue("href")
	if !strings.HasPrefix(href, "/us/products/") {
		t.Errorf("card link href = %q, want a /us/products/ page", href)
	}
	resp, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.NodeIDs{pick.NodeID}))
	if err != nil {
		t.Fatalf("click the card %q: %v\n%s", href, err, pageText(ctx))
	}
	if resp.Status != 200 {
		t.Fatalf("product page %s: HTTP %d, want 200\n%s", href, resp.Status, pageText(ctx))
	}

	// 3. The product page: name and a price in dollars.
	if h1 := oneText(t, ctx, "h1"); !strings.Contains(h1, "Power Bank") {
		t.Errorf("product page h1 = %q, want it to contain %q\n%s", h1, "Power Bank", pageText(ctx))
	}
	price := oneText(t, ctx, ".product-price")
	if !strings.Contains(price, "$") || !usdPrice.MatchString(price) {
		t.Errorf(".product-price = %q, want a dollar price like $24.99\n%s", price, pageText(ctx))
	}
	docShot(t, ctx, "phone-product", phoneWidth)

	// 4. A phone without FCC authorization: not sold in the US, with
	//    resellers to buy it from.
	visit(t, ctx, base+"/us/products/mistore-phone-14", 200)
	if !anyContains(texts(t, ctx, "main h1, main h2, main h3"), "Not sold in the United States") {
		t.Errorf("no heading says %q\n%s", "Not sold in the United States", pageText(ctx))
	}
	if !anyContains(texts(t, ctx, "main p"), "FCC") {
		t.Errorf("no sentence on the not-sold page gives the reason (mentions FCC)\n%s", pageText(ctx))
	}
	links, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(".resellers a"), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatalf("query .resellers a: %v", err)
	}
	if len(links) == 0 {
		t.Errorf("no reseller link (.resellers a) on the not-sold page\n%s", pageText(ctx))
	}
	for _, a := range links {
		if h := a.AttributeValue("href"); !strings.HasPrefix(h, "https://") {
			t.Errorf("reseller link href = %q, want an https:// URL", h)
		}
	}
	docShot(t, ctx, "product-not-sold", desktopWidth)

	// 5. A visitor joins its waitlist with an email address.
	email := mode.email("grace@example.com")
	setField(t, ctx, "#waitlist-email", email)
	click(t, ctx, ".waitlist-form button[type=submit]", 200)
	wantPath(t, ctx, "/us/waitlist/sent")
	if h := oneText(t, ctx, "#wl-title"); h != "Check your inbox" {
		t.Errorf("after joining the waitlist the heading is %q, want %q\n%s", h, "Check your inbox", pageText(ctx))
	}

	// 6. The same phone in China is sold, in yuan, and the Chinese store
	//    speaks Chinese.
	visit(t, ctx, base+"/cn/products/mistore-phone-14", 200)
	if body := oneText(t, ctx, "body"); strings.Contains(body, "Not sold in") {
		t.Errorf("/cn/products/mistore-phone-14 says %q\n%s", "Not sold in", pageText(ctx))
	}
	if price := oneText(t, ctx, ".product-price"); !strings.Contains(price, "¥") {
		t.Errorf("CN .product-price = %q, want a price in ¥\n%s", price, pageText(ctx))
	}
	visit(t, ctx, base+"/cn/", 200)
	if lang := htmlLang(t, ctx); !strings.HasPrefix(lang, "zh") {
		t.Errorf("the Chinese home page is in %q, want Chinese (zh-…)", lang)
	}
	docShot(t, ctx, "home-cn", desktopWidth)

	// 7. The language switch, a form: English in the Chinese store, and
	//    back.
	click(t, ctx, `form.lang-switch button[name=lang][value^="en"]`, 200)
	wantPath(t, ctx, "/cn/")
	if lang := htmlLang(t, ctx); !strings.HasPrefix(lang, "en") {
		t.Errorf("after switching to English the Chinese store is in %q", lang)
	}
	click(t, ctx, `form.lang-switch button[name=lang][value^="zh"]`, 200)
	if lang := htmlLang(t, ctx); !strings.HasPrefix(lang, "zh") {
		t.Errorf("after switching back to Chinese the store is in %q", lang)
	}
}

// htmlLang is the language the current page declares.
func htmlLang(t *testing.T, ctx context.Context) string {
	t.Helper()
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		t.Fatalf("read the page's language: %v", err)
	}
	return lang
}

// anyContains reports whether one of texts contains sub.
func anyContains(texts []string, sub string) bool {
	for _, s := range texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
