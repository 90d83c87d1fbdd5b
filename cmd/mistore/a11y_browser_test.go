package main

// Accessibility of the storefront and the back office, checked in the real
// browser with axe-core (Deque's rules engine, the one browser dev tools and
// most audits use). axe-core is an npm package: the test installs a pinned
// version once into the user's cache directory with npm, and skips without
// npm (fails under MISTORE_REQUIRE_ALL=1).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeVersion is the axe-core release the tests run: pinned, so a new rule
// in a later release does not fail a build that changed nothing.
const axeVersion = "4.14.1"

// axeScript is axe.min.js, read once per test binary.
var axeScript struct {
	once sync.Once
	src  string
	err  error
}

// axeSource returns the source of axe.min.js, installing axe-core on first
// use. Without it t is skipped, or fails under MISTORE_REQUIRE_ALL=1.
func axeSource(t *testing.T) string {
	t.Helper()
	axeScript.once.Do(func() { axeScript.src, axeScript.err = installAxe() })
	if axeScript.err != nil {
		if requireAll() {
			t.Fatalf("axe-core %s: %v; MISTORE_REQUIRE_ALL=1 forbids skipping the accessibility test", axeVersion, axeScript.err)
		}
		t.Skipf("axe-core %s: %v", axeVersion, axeScript.err)
	}
	return axeScript.src
}

// installAxe returns axe.min.js from the cache directory
// (os.UserCacheDir()/mistore/axe-core-VERSION), installing it there with
// npm when it is missing. npm installs into a temporary directory beside
// it that is renamed into place once complete, so a test binary running at
// the same time sees the whole package or none.
func installAxe() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	root := filepath.Join(cache, "mistore")
	dir := filepath.Join(root, "axe-core-"+axeVersion)
	script := func(dir string) string { return filepath.Join(dir, "node_modules", "axe-core", "axe.min.js") }
	if b, err := os.ReadFile(script(dir)); err == nil {
		return string(b), nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("npm is not installed (Debian package npm), so axe-core cannot be installed")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, "axe-core-"+axeVersion+".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // gone after the rename; left over only when npm failed
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-update-notifier", "--prefix", tmp, "axe-core@"+axeVersion)
	cmd.Stdin = nil
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s install axe-core@%s: %v\n%s", npm, axeVersion, err, tail(string(out), 2000))
	}
	if _, err := os.Stat(script(tmp)); err != nil {
		return "", fmt.Errorf("npm installed axe-core@%s without axe.min.js: %v", axeVersion, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another test binary may have renamed its own copy into place
		// first: use that one.
		if _, statErr := os.Stat(script(dir)); statErr != nil {
			return "", fmt.Errorf("move axe-core into %s: %v (remove the directory if it is incomplete)", dir, err)
		}
	}
	b, err := os.ReadFile(script(dir))
	return string(b), err
}

// axeViolation is what the test keeps of one violation of an axe rule.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  string `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// axeRunJS runs every axe rule on the whole document and returns the
// violations in axeViolation's shape. Selectors of nodes in shadow roots or
// frames are arrays: they are joined.
const axeRunJS = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), html: n.html, summary: n.failureSummary || ""})),
})))`

// settleJS resolves once the page has drawn a frame and every finite CSS
// transition or animation has finished: a scheme switch fades colours in
// over .15s, and axe must measure the colours they end at.
const settleJS = `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))).then(() =>
	Promise.all(document.getAnimations()
		.filter(a => isFinite(a.effect?.getComputedTiming().endTime ?? Infinity))
		.map(a => a.finished.catch(() => {})))).then(() => true)`

// checkA11y runs axe-core on the page the tab shows. Every violation of
// impact serious or critical fails t (the test goes on, to list them all);
// moderate and minor ones are logged.
func checkA11y(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	src := axeSource(t)
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			t.Fatalf("%s: inject axe-core: %v", name, err)
		}
		if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.version`)); err != nil || v != axeVersion {
			t.Fatalf("%s: axe.version = %q (%v), want %s", name, v, err, axeVersion)
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settleJS, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("%s: wait for the page to settle: %v", name, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", name, err)
	}
	var fail, note strings.Builder
	for _, v := range violations {
		switch v.Impact {
		case "serious", "critical":
			fmt.Fprintf(&fail, "\n  %s (%s): %s\n    %s", v.ID, v.Impact, v.Help, v.HelpURL)
			for i, n := range v.Nodes {
				if i == 3 {
					fmt.Fprintf(&fail, "\n    … and %d more", len(v.Nodes)-3)
					break
				}
				fmt.Fprintf(&fail, "\n    - %s\n      %s", n.Target, snippet(n.HTML, 240))
				if s := strings.Join(strings.Fields(n.Summary), " "); s != "" {
					fmt.Fprintf(&fail, "\n      %s", snippet(s, 300))
				}
			}
		default:
			targets := make([]string, 0, 3)
			for i, n := range v.Nodes {
				if i == 3 {
					targets = append(targets, "…")
					break
				}
				targets = append(targets, n.Target)
			}
			fmt.Fprintf(&note, "\n  %s (%s): %s — %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
		}
	}
	if note.Len() > 0 {
		t.Logf("%s: axe-core notes (moderate/minor, not failing):%s", name, note.String())
	}
	if fail.Len() > 0 {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Errorf("%s (%s): axe-core %s finds serious or critical violations:%s", name, loc, axeVersion, fail.String())
	}
}

// snippet shortens s to at most n bytes, on one line.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// setColorScheme makes the tab's pages see prefers-color-scheme: scheme
// ("light" or "dark"), for this page and the ones after it.
func setColorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	if err != nil {
		t.Fatalf("emulate prefers-color-scheme: %s: %v", scheme, err)
	}
}

// checkSchemes runs checkA11y on the current page in the light scheme,
// then in the dark one (its own colours, contrast included), and leaves
// the tab light.
func checkSchemes(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	setColorScheme(t, ctx, "light")
	checkA11y(t, ctx, name+" (light)")
	setColorScheme(t, ctx, "dark")
	checkA11y(t, ctx, name+" (dark)")
	setColorScheme(t, ctx, "light")
}

// narrowJS measures the page's width on a narrow screen: the document's
// scroll width and the elements that end past the right edge of the
// window, not counting what is inside a box that scrolls or clips
// sideways (the category bar is meant to scroll).
const narrowJS = `(() => {
	const w = document.documentElement.clientWidth;
	const clipped = e => {
		for (let p = e.parentElement; p; p = p.parentElement) {
			if (getComputedStyle(p).overflowX !== "visible") return true;
		}
		return false;
	};
	const out = [];
	for (const e of document.body.querySelectorAll("*")) {
		const b = e.getBoundingClientRect();
		if (!b.width || !b.height || b.right <= w + 0.5 || clipped(e)) continue;
		const text = (e.innerText || "").trim().replace(/\s+/g, " ").slice(0, 40);
		out.push(e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : "") +
			' "' + text + '": ' + Math.round(b.left) + ".." + Math.round(b.right) + " px");
	}
	return {scrollWidth: document.documentElement.scrollWidth, wide: out.slice(0, 12)};
})()`

// narrowWidth is the narrowest phone screen the pages must fit, in CSS px
// (an iPhone SE of the first generation, WCAG 1.4.10's reflow width).
const narrowWidth = 320

// checkNarrow resizes the tab to a 320 px phone, fails t if the current
// page scrolls sideways there, runs checkSchemes on the phone's layout (a
// header of its own, link labels hidden), and resizes back.
func checkNarrow(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(narrowWidth, 640, chromedp.EmulatePortrait, chromedp.EmulateMobile)); err != nil {
		t.Fatalf("%s: resize to %d px: %v", name, narrowWidth, err)
	}
	defer func() {
		if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
			t.Fatalf("%s: reset the window: %v", name, err)
		}
	}()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settleJS, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("%s: wait for the page to settle: %v", name, err)
	}
	m, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		ScrollWidth int      `json:"scrollWidth"`
		Wide        []string `json:"wide"`
	}](narrowJS))
	if err != nil {
		t.Fatalf("%s: measure at %d px: %v", name, narrowWidth, err)
	}
	if m.ScrollWidth > narrowWidth {
		t.Errorf("%s: on a %d px screen the page is %d px wide and scrolls sideways; past the edge:\n  %s",
			name, narrowWidth, m.ScrollWidth, strings.Join(m.Wide, "\n  "))
	}
	checkSchemes(t, ctx, fmt.Sprintf("%s at %d px", name, narrowWidth))
}

// TestBrowserAccessibility runs axe-core on the key pages of the
// storefront and the back office, in the light and the dark colour
// scheme; checks that the add-to-cart button is reached with Tab, shows
// where the focus is and works with Enter; and that the main pages fit a
// 320 px screen. Each part has its own browser (and its own time limit),
// all on one store.
func TestBrowserAccessibility(t *testing.T) {
	if testing.Short() && !requireAll() {
		t.Skip("browser test skipped in -short mode: it starts Chromium (set MISTORE_REQUIRE_ALL=1 to force it)")
	}
	findChromium(t)
	axeSource(t) // skip or fail before starting anything
	m, _ := startStoreWithOwner(t)
	base := m.URL()

	t.Run("browse", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+"/us/", 200)
		checkSchemes(t, ctx, "home")
		checkNarrow(t, ctx, "home")
		click(t, ctx, ".market-switch summary", -1)
		checkSchemes(t, ctx, "home with the market menu open")
		checkNarrow(t, ctx, "home with the market menu open")
		visit(t, ctx, base+"/us/products", 200)
		checkSchemes(t, ctx, "product list")
		visit(t, ctx, base+"/us/products?q=power+bank", 200)
		checkSchemes(t, ctx, "search results")
	})

	t.Run("more pages", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+"/us/products/mistore-phone-14", 200)
		checkSchemes(t, ctx, "product not sold in the US")
		visit(t, ctx, base+"/us/flash-sales", 200)
		checkSchemes(t, ctx, "flash sale list")
		visit(t, ctx, base+"/us/flash-sales/1", 200)
		checkSchemes(t, ctx, "flash sale")
		visit(t, ctx, base+"/cn/", 200)
		checkSchemes(t, ctx, "cn home")
		checkNarrow(t, ctx, "cn home") // a header with the language switch
		visit(t, ctx, base+"/cn/products/mistore-phone-14", 200)
		checkSchemes(t, ctx, "cn product page")
		visit(t, ctx, base+"/us/products/no-such-product", 404)
		checkSchemes(t, ctx, "404 page")
	})

	t.Run("keyboard", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+powerBankPath, 200)
		checkSchemes(t, ctx, "product page")
		checkNarrow(t, ctx, "product page")
		addWithKeyboard(t, ctx)
		if n := len(texts(t, ctx, "li.cart-line")); n != 1 {
			t.Fatalf("after Enter on Add to cart the cart has %d lines, want 1\n%s", n, pageText(ctx))
		}
	})

	t.Run("header", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+"/us/", 200)
		checkHeader(t, ctx, "us home")
		visit(t, ctx, base+"/cn/", 200)
		checkHeader(t, ctx, "cn home")
		click(t, ctx, `.lang-switch button[value="en-CN"]`, 200)
		if lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); err != nil || lang != "en-CN" {
			t.Errorf("after choosing English in China <html lang=%q> (%v), want en-CN", lang, err)
		}
		checkSchemes(t, ctx, "cn home in English")
		checkHeader(t, ctx, "cn home in English")
	})

	t.Run("account", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+"/us/account", 200)
		checkSchemes(t, ctx, "account sign-in")
		visit(t, ctx, base+"/us/account/register", 200)
		checkSchemes(t, ctx, "account register")
		setField(t, ctx, "#name", newarkNJ.name)
		setField(t, ctx, "#email", newarkNJ.email)
		setField(t, ctx, "#password", ownerPassword)
		click(t, ctx, ".account-form button[type=submit]", 200)
		wantPath(t, ctx, "/us/account")
		checkSchemes(t, ctx, "account")
		visit(t, ctx, base+powerBankPath, 200)
		checkSchemes(t, ctx, "product page signed in") // the review and comment forms
	})

	var number string
	t.Run("buy", func(t *testing.T) {
		ctx := newBrowser(t)
		addToCart(t, ctx, base, powerBankPath)
		checkSchemes(t, ctx, "cart")
		checkNarrow(t, ctx, "cart")
		click(t, ctx, "a.cart-checkout", 200)
		checkSchemes(t, ctx, "checkout")
		checkNarrow(t, ctx, "checkout")
		bad := newarkNJ
		bad.postalCode = "1234"
		fillCheckout(t, ctx, bad)
		click(t, ctx, `button[name=action][value=place]`, 422)
		checkSchemes(t, ctx, "checkout with an error")
		setField(t, ctx, "#postal_code", newarkNJ.postalCode)
		click(t, ctx, `button[name=action][value=quote]`, 200)
		checkSchemes(t, ctx, "checkout with the total")
		click(t, ctx, `button[name=action][value=place]`, 200)
		number = onPaymentPage(t, ctx)
		checkSchemes(t, ctx, "payment page")
		checkNarrow(t, ctx, "payment page")
		pay(t, ctx, declinedCard, 402)
		checkSchemes(t, ctx, "payment declined")
		pay(t, ctx, goodCard, 200)
		onOrderPage(t, ctx, number)
		waitPaid(t, ctx, number)
		checkSchemes(t, ctx, "order page")
	})

	t.Run("staff", func(t *testing.T) {
		ctx := newBrowser(t)
		visit(t, ctx, base+"/admin/", 200)
		wantPath(t, ctx, "/admin/sign-in")
		checkSchemes(t, ctx, "admin sign-in")
		setField(t, ctx, "#email", "owner@example.com")
		setField(t, ctx, "#password", ownerPassword)
		click(t, ctx, `form[action="/admin/sign-in"] button[type=submit]`, 200)
		wantPath(t, ctx, "/admin/")
		checkSchemes(t, ctx, "admin dashboard")
		if number != "" {
			visit(t, ctx, base+"/admin/orders/"+number, 200)
			checkSchemes(t, ctx, "admin order")
		} else {
			t.Error("no admin order page to check: the buy step placed no order")
		}
		for _, p := range []string{"/admin/orders", "/admin/products", "/admin/products/mistore-phone-14", "/admin/flash-sales/1", "/admin/inventory", "/admin/shipping", "/admin/tax-rates", "/admin/customers", "/admin/audit", "/admin/staff", "/admin/account"} {
			visit(t, ctx, base+p, 200)
			checkSchemes(t, ctx, p)
		}
	})
}

// addWithKeyboard presses Tab from the top of the product page until the
// Add to cart button has the focus, checks that the focus shows, and
// presses Enter, which must add to the cart and open it.
func addWithKeyboard(t *testing.T, ctx context.Context) {
	t.Helper()
	const button = "form.add-to-cart button[type=submit]"
	const maxTabs = 80
	var path []string
	for i := 0; ; i++ {
		if i == maxTabs {
			t.Fatalf("%d presses of Tab never reach %s; the focus went through:\n  %s", maxTabs, button, strings.Join(path, "\n  "))
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatalf("press Tab: %v", err)
		}
		at, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
			Match bool   `json:"match"`
			Desc  string `json:"desc"`
		}](`(() => {
			const e = document.activeElement;
			return {match: e.matches(`+jsString(button)+`),
				desc: e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + " " + (e.innerText || e.value || e.getAttribute("aria-label") || "").trim().slice(0, 40)};
		})()`))
		if err != nil {
			t.Fatalf("read the focused element: %v", err)
		}
		path = append(path, at.Desc)
		if at.Match {
			break
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settleJS, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	style, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		FocusVisible bool    `json:"focusVisible"`
		OutlineStyle string  `json:"outlineStyle"`
		OutlineWidth float64 `json:"outlineWidth"`
		BoxShadow    string  `json:"boxShadow"`
	}](`(() => {
		const e = document.activeElement, s = getComputedStyle(e);
		return {focusVisible: e.matches(":focus-visible"), outlineStyle: s.outlineStyle,
			outlineWidth: parseFloat(s.outlineWidth) || 0, boxShadow: s.boxShadow};
	})()`))
	if err != nil {
		t.Fatalf("read the focus style: %v", err)
	}
	if !style.FocusVisible {
		t.Errorf("the Add to cart button reached with Tab does not match :focus-visible")
	}
	if (style.OutlineStyle == "none" || style.OutlineWidth == 0) && style.BoxShadow == "none" {
		t.Errorf("the focused Add to cart button shows no focus: outline %s %gpx, box-shadow %s", style.OutlineStyle, style.OutlineWidth, style.BoxShadow)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.KeyEvent(kb.Enter))
	if err != nil {
		t.Fatalf("press Enter on Add to cart: %v\n%s", err, pageText(ctx))
	}
	if resp.Status != 200 {
		t.Fatalf("Enter on Add to cart: HTTP %d, want 200\n%s", resp.Status, pageText(ctx))
	}
	wantPath(t, ctx, "/us/cart")
}

// headerJS lists what is wrong with the site header's layout at the
// current width: a part of it (brand, search, market, language, links)
// that overlaps another, runs past the window or past its own box, and a
// search box with too little room left to type in beside its button.
const headerJS = `(() => {
	const row = document.querySelector(".header-row");
	if (!row) return ["no .header-row"];
	const w = document.documentElement.clientWidth;
	const name = e => e.tagName.toLowerCase() + "." + String(e.className).split(" ")[0];
	const px = b => Math.round(b.left) + ".." + Math.round(b.right) + "×" + Math.round(b.top) + ".." + Math.round(b.bottom);
	const kids = Array.from(row.children).filter(e => { const b = e.getBoundingClientRect(); return b.width && b.height; });
	const out = [];
	kids.forEach((e, i) => {
		const a = e.getBoundingClientRect();
		if (a.left < -0.5 || a.right > w + 0.5) out.push(name(e) + " " + px(a) + " runs past the window (0.." + w + ")");
		if (e.scrollWidth > e.clientWidth + 1) out.push(name(e) + " content is " + e.scrollWidth + " px wide in a " + e.clientWidth + " px box");
		for (const f of kids.slice(i + 1)) {
			const b = f.getBoundingClientRect();
			if (a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5)
				out.push(name(e) + " " + px(a) + " overlaps " + name(f) + " " + px(b));
		}
	});
	const input = row.querySelector(".search input"), button = row.querySelector(".search button");
	if (input && button) {
		const room = button.getBoundingClientRect().left - input.getBoundingClientRect().left - parseFloat(getComputedStyle(input).paddingLeft);
		if (room < 96) out.push("the search box leaves " + Math.round(room) + " px to type in beside its button");
	}
	return out;
})()`

// headerWidths are the window widths checkHeader tries: phones, the
// breakpoints of store.css and either side of them, tablets and desktops.
var headerWidths = []int64{320, 360, 414, 480, 560, 639, 640, 720, 760, 800, 899, 900, 1024, 1100, 1199, 1200, 1280, 1440}

// checkHeader resizes the tab through headerWidths and fails t at each
// width where the site header's parts overlap or do not fit (headerJS).
// Below 760 px the window is a phone's (no scroll bar, the viewport meta
// applies).
func checkHeader(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	defer func() {
		if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
			t.Fatalf("%s: reset the window: %v", name, err)
		}
	}()
	for _, w := range headerWidths {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
		if w < 760 {
			opts = append(opts, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800, opts...)); err != nil {
			t.Fatalf("%s: resize to %d px: %v", name, w, err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](settleJS, chromedp.EvalAwaitPromise)); err != nil {
			t.Fatalf("%s: wait for the page to settle: %v", name, err)
		}
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](headerJS))
		if err != nil {
			t.Fatalf("%s: measure the header at %d px: %v", name, w, err)
		}
		if len(bad) > 0 {
			t.Errorf("%s: at %d px the site header does not fit:\n  %s", name, w, strings.Join(bad, "\n  "))
		}
	}
}
