package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/demo"
	"mistore/internal/inventory"
	"mistore/internal/media"
	"mistore/internal/web"
)

// photo is a w×h picture, left half red and right half blue, as a JPEG,
// or as a PNG with half-transparent pixels when alpha.
func photo(t *testing.T, w, h int, alpha bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	a := uint8(255)
	if alpha {
		a = 128
	}
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 220, A: a}
			if x >= w/2 {
				c = color.NRGBA{B: 220, A: a}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	var err error
	if alpha {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// productImages is the images of an AdminProduct answer.
type productImages struct {
	Images []struct {
		Name     string `json:"name"`
		Position int    `json:"position"`
		URL      string `json:"url"`
		Alt      string `json:"alt"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
		Widths   []int  `json:"widths"`
	} `json:"images"`
}

func imagesOf(t *testing.T, body string) productImages {
	t.Helper()
	var p productImages
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("not a product: %v: %s", err, body)
	}
	return p
}

// mediaFile is the file part of a /media/{file}/{width} address.
func mediaFile(u string) string {
	parts := strings.Split(strings.TrimPrefix(u, "/media/"), "/")
	return parts[0]
}

// TestProductPhotos: a manager uploads photos of a product through the
// API; the storefront shows the cover in lists, the product page, the
// product API and the link previews, and serves each rendition for good;
// photos are reordered, replaced and deleted; refused uploads change
// nothing.
func TestProductPhotos(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const base = "/api/v1/admin/products/mistore-band-8/images/"
		put := func(name, query string, body []byte, contentType string, hdr ...string) (int, string) {
			t.Helper()
			h := append([]string{"Content-Type", contentType}, hdr...)
			st, out, _ := s.do("PUT", base+name+query, string(body), h...)
			return st, out
		}

		st, out := put("front", "?alt="+url.QueryEscape("The band from the front"), photo(t, 1200, 900, false), "image/jpeg", manager...)
		if st != http.StatusOK {
			t.Fatalf("PUT front: %d %s", st, out)
		}
		front := imagesOf(t, out).Images
		if len(front) != 1 || front[0].Name != "front" || front[0].Position != 1 || front[0].Alt != "The band from the front" ||
			front[0].Width != 1200 || front[0].Height != 900 || len(front[0].Widths) != 3 || front[0].Widths[2] != 1200 {
			t.Fatalf("after PUT front: %+v", front)
		}
		file := mediaFile(front[0].URL)
		if front[0].URL != "/media/"+file+"/1200" {
			t.Errorf("url %q", front[0].URL)
		}
		if auditCount(t, d, "product.image_put", "product:mistore-band-8") != 1 {
			t.Error("the upload was not audited")
		}

		// The renditions: the one nearest the width asked, cached for good.
		for _, c := range []struct{ ask, want int }{{1600, 1200}, {800, 800}, {500, 800}, {1, 400}} {
			st, body, h := s.do("GET", "/media/"+file+"/"+itoa(int64(c.ask)), "")
			if st != http.StatusOK || h.Get("Content-Type") != "image/jpeg" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
				t.Fatalf("GET rendition %d: %d %v", c.ask, st, h)
			}
			cfg, err := jpeg.DecodeConfig(strings.NewReader(body))
			if err != nil || cfg.Width != c.want {
				t.Errorf("asked %d px, got %d px (%v), want %d", c.ask, cfg.Width, err, c.want)
			}
		}
		_, _, h := s.do("GET", "/media/"+file+"/800", "")
		if st, _, _ := s.do("GET", "/media/"+file+"/800", "", "If-None-Match", h.Get("ETag")); st != http.StatusNotModified {
			t.Errorf("a rendition the browser has: %d, want 304", st)
		}
		for _, p := range []string{"/media/nosuchfile/800", "/media/" + file + "/0", "/media/" + file + "/x", "/media/" + file + "/99999999"} {
			if st, _, _ := s.do("GET", p, ""); st != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", p, st)
			}
		}

		// The storefront shows it.
		_, page, _ := s.do("GET", "/us/products/mistore-band-8", "")
		for _, want := range []string{
			`srcset="/media/` + file + `/400 400w, /media/` + file + `/800 800w, /media/` + file + `/1200 1200w"`,
			`alt="The band from the front" width="1200" height="900"`,
			`<meta property="og:image" content="` + s.url + `/media/` + file + `/1600">`,
			`"image":["` + s.url + `/media/` + file + `/1600"]`,
			`<meta property="og:image:width" content="1200"><meta property="og:image:height" content="900"><meta property="og:image:alt" content="The band from the front">`,
		} {
			if !strings.Contains(page, want) {
				t.Errorf("the product page lacks %s", want)
			}
		}
		if _, sm, _ := s.do("GET", "/us/sitemap.xml", ""); !strings.Contains(sm, `xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"`) ||
			!strings.Contains(sm, "<loc>"+s.url+"/us/products/mistore-band-8</loc>\n    <image:image>\n      <image:loc>"+s.url+"/media/"+file+"/1600</image:loc>") {
			t.Errorf("the sitemap does not list the photo:\n%s", sm)
		}
		if _, list, _ := s.do("GET", "/us/products?category=wearables", ""); !strings.Contains(list, `src="/media/`+file+`/800"`) {
			t.Error("the list's card does not show the cover")
		}
		if _, api, _ := s.do("GET", "/api/v1/markets/us/products/mistore-band-8", ""); !strings.Contains(api, `"images":["/media/`+file+`/1600"]`) {
			t.Errorf("the product API: %s", api)
		}

		// A second photo, transparent: kept as PNG, placed last, then made the cover.
		if st, out = put("side", "", photo(t, 300, 300, true), "image/png", manager...); st != http.StatusOK {
			t.Fatalf("PUT side: %d %s", st, out)
		}
		side := imagesOf(t, out).Images
		if len(side) != 2 || side[1].Name != "side" || side[1].Position != 2 || len(side[1].Widths) != 1 {
			t.Fatalf("after PUT side: %+v", side)
		}
		if _, _, h := s.do("GET", side[1].URL, ""); h.Get("Content-Type") != "image/png" {
			t.Errorf("a transparent photo is served as %q", h.Get("Content-Type"))
		}
		st, out, _ = s.do("PATCH", base+"side", `{"position":1,"alt":"The band from the side"}`, manager...)
		if imgs := imagesOf(t, out).Images; st != http.StatusOK || imgs[0].Name != "side" || imgs[0].Alt != "The band from the side" || imgs[1].Name != "front" {
			t.Fatalf("PATCH side: %d %s", st, out)
		}
		if _, api, _ := s.do("GET", "/api/v1/markets/us/products/mistore-band-8", ""); !strings.Contains(api, `"images":["`+side[1].URL[:len(side[1].URL)-4]) {
			t.Errorf("the cover is not the side photo: %s", api)
		}

		// Replacing a photo's picture: a new file, the old one gone, the place kept.
		if st, out = put("front", "", photo(t, 640, 480, false), "image/jpeg", manager...); st != http.StatusOK {
			t.Fatalf("replace front: %d %s", st, out)
		}
		imgs := imagesOf(t, out).Images
		if len(imgs) != 2 || imgs[1].Name != "front" || mediaFile(imgs[1].URL) == file || imgs[1].Width != 640 || imgs[1].Alt != "The band from the front" {
			t.Fatalf("after replacing front: %+v", imgs)
		}
		if st, _, _ := s.do("GET", "/media/"+file+"/800", ""); st != http.StatusNotFound {
			t.Errorf("the replaced picture is still served: %d", st)
		}

		// Refused, each changing nothing.
		huge := photo(t, 1, 1, true)
		binary.BigEndian.PutUint32(huge[16:], 30000)
		binary.BigEndian.PutUint32(huge[20:], 30000)
		binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
		svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
		viewer := bearer(s.adminKey("viewer"))
		for _, c := range []struct {
			name, query string
			body        []byte
			hdr         []string
			status      int
			code        string
		}{
			{"back", "", []byte("not a picture"), manager, 422, "invalid_field"},
			{"back", "", svg, manager, 422, "invalid_field"},
			{"back", "", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), manager, 422, "invalid_field"},
			{"back", "", photo(t, 50, 50, false)[:200], manager, 422, "invalid_field"},
			{"back", "", huge, manager, 413, "request_too_large"},
			{"back", "", make([]byte, 20<<20+1), manager, 413, "request_too_large"},
			{"Back%20View", "", photo(t, 50, 50, false), manager, 422, "invalid_field"},
			{"back", "?alt=" + url.QueryEscape(strings.Repeat("x", 301)), photo(t, 50, 50, false), manager, 422, "invalid_field"},
			{"back", "", photo(t, 50, 50, false), viewer, 403, "forbidden"},
		} {
			st, out := put(c.name, c.query, c.body, "image/jpeg", c.hdr...)
			if st != c.status || !strings.Contains(out, `"code":"`+c.code+`"`) {
				t.Errorf("PUT %s%s (%d bytes): %d %.200s, want %d %s", c.name, c.query, len(c.body), st, out, c.status, c.code)
			}
		}
		if st, _, _ := s.do("PUT", "/api/v1/admin/products/no-such-product/images/front", string(photo(t, 50, 50, false)), append([]string{"Content-Type", "image/jpeg"}, manager...)...); st != http.StatusNotFound {
			t.Errorf("a photo of no product: %d", st)
		}
		for _, c := range []struct {
			method, path, body string
			status             int
		}{
			{"PATCH", base + "nope", `{"alt":"x"}`, 404},
			{"PATCH", base + "front", `{"position":0}`, 422},
			{"PATCH", base + "front", `{"position":3}`, 422},
			{"PATCH", base + "front", `{"position":"1"}`, 400},
			{"PATCH", base + "front", `{"alt":"a\nb"}`, 422},
			{"DELETE", base + "nope", "", 404},
		} {
			if st, out, _ := s.do(c.method, c.path, c.body, manager...); st != c.status {
				t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, st, out, c.status)
			}
		}
		_, out, _ = s.do("GET", "/api/v1/admin/products/mistore-band-8", "", manager...)
		if after := imagesOf(t, out).Images; len(after) != 2 || after[0].Name != "side" || after[1].Name != "front" || after[1].Width != 640 {
			t.Fatalf("refused requests changed the photos: %+v", after)
		}

		// Deleting both: the built-in art again.
		for _, name := range []string{"side", "front"} {
			if st, out, _ := s.do("DELETE", base+name, "", manager...); st != http.StatusOK {
				t.Fatalf("DELETE %s: %d %s", name, st, out)
			}
		}
		if st, _, _ := s.do("GET", side[1].URL, ""); st != http.StatusNotFound {
			t.Errorf("a deleted photo is still served: %d", st)
		}
		if _, api, _ := s.do("GET", "/api/v1/markets/us/products/mistore-band-8", ""); !strings.Contains(api, `"images":["/static/`) {
			t.Errorf("without photos the product API shows: %s", api)
		}
		if n := s.count("SELECT count(*) FROM image_renditions"); n != 0 {
			t.Errorf("%d renditions left behind", n)
		}
		for action, want := range map[string]int{"product.image_put": 3, "product.image_update": 1, "product.image_delete": 2} {
			if got := auditCount(t, d, action, "product:mistore-band-8"); got != want {
				t.Errorf("%s audited %d times, want %d", action, got, want)
			}
		}
	})
}

// TestAdminPhotoForms: the product page's upload form and photo rows,
// without JavaScript.
func TestAdminPhotoForms(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		cookie := s.adminCookie("manager")
		const page = "/admin/products/mistore-band-8"
		uploadPhoto := func(name, alt string, data []byte) (int, string, http.Header) {
			t.Helper()
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("name", name)
			mw.WriteField("alt", alt)
			fw, _ := mw.CreateFormFile("file", "photo.jpg")
			fw.Write(data)
			mw.Close()
			req, err := http.NewRequest("POST", s.url+page+"/images", &buf)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.AddCookie(cookie)
			return s.send(req)
		}
		st, _, h := uploadPhoto("front", "The band", photo(t, 900, 900, false))
		if st != http.StatusSeeOther {
			t.Fatalf("upload: %d", st)
		}
		_, body, _ := s.adminGet(cookie, page, h)
		for _, want := range []string{"Photo front saved.", "<code>front</code>", "900×900", `value="The band"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the product page lacks %q", want)
			}
		}
		if st, body, _ := uploadPhoto("back", "", []byte("<html>not a picture</html>")); st != http.StatusUnprocessableEntity || !strings.Contains(body, "not a JPEG, PNG or WebP picture") {
			t.Errorf("a file that is no picture: %d", st)
		}
		if st, body, _ := uploadPhoto("Back!", "", photo(t, 50, 50, false)); st != http.StatusUnprocessableEntity || !strings.Contains(body, "lowercase letters") {
			t.Errorf("a bad name: %d", st)
		}
		uploadPhoto("back", "", photo(t, 50, 50, false))
		if st, _, _ := s.adminForm(cookie, page+"/images/back", url.Values{"action": {"up"}}); st != http.StatusSeeOther {
			t.Fatalf("move up: %d", st)
		}
		_, out, _ := s.do("GET", "/api/v1/admin/products/mistore-band-8", "", bearer(s.adminKey("viewer"))...)
		if imgs := imagesOf(t, out).Images; len(imgs) != 2 || imgs[0].Name != "back" {
			t.Fatalf("after moving back up: %+v", imgs)
		}
		if st, _, _ := s.adminForm(cookie, page+"/images/back", url.Values{"action": {"save"}, "alt": {"The back"}}); st != http.StatusSeeOther {
			t.Fatalf("save alt: %d", st)
		}
		if st, _, _ := s.adminForm(cookie, page+"/images/back", url.Values{"action": {"delete"}}); st != http.StatusSeeOther {
			t.Fatalf("delete: %d", st)
		}
		_, out, _ = s.do("GET", "/api/v1/admin/products/mistore-band-8", "", bearer(s.adminKey("viewer"))...)
		if imgs := imagesOf(t, out).Images; len(imgs) != 1 || imgs[0].Name != "front" {
			t.Fatalf("after deleting back: %+v", imgs)
		}
		// The row's variant select.
		if st, _, _ := s.adminForm(cookie, page+"/images/front", url.Values{"action": {"save"}, "alt": {"The band"}, "sku": {"MB8-BLK"}}); st != http.StatusSeeOther {
			t.Fatalf("save the variant: %d", st)
		}
		_, out, _ = s.do("GET", "/api/v1/admin/products/mistore-band-8", "", bearer(s.adminKey("viewer"))...)
		if imgs := imagesOf(t, out).Images; len(imgs) != 1 || !strings.Contains(out, `"name":"front","position":1,"url":"/media/`) || !strings.Contains(out, `"alt":"The band","sku":"MB8-BLK"`) {
			t.Fatalf("after choosing the variant: %s", out)
		}
		if st, body, _ := s.adminForm(cookie, page+"/images/front", url.Values{"action": {"save"}, "sku": {"NOPE"}}); st != http.StatusUnprocessableEntity || !strings.Contains(body, "NOPE is not a variant of this product") {
			t.Errorf("an unknown variant: %d", st)
		}
		// The products list counts them.
		if _, list, _ := s.adminGet(cookie, "/admin/products"); !strings.Contains(list, `<td class="num photo-count">1</td>`) || !strings.Contains(list, `<td class="num photo-count"><span class="muted" title="The storefront shows its built-in art">none</span>`) {
			t.Error("the products list does not count photos")
		}
		// A viewer sees the photos but no forms.
		_, body, _ = s.adminGet(s.adminCookie("viewer"), page)
		if !strings.Contains(body, "<code>front</code>") || strings.Contains(body, page+"/images\"") {
			t.Error("a viewer's product page shows no photos, or the upload form")
		}
	})
}

// TestVariantPhotos: a photo can show one variant (a strap in one
// colour): the product page shows it large when that variant is chosen,
// the cart on that variant's line; a variant without a photo shows the
// cover.
func TestVariantPhotos(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		manager := bearer(s.adminKey("manager"))
		const base = "/api/v1/admin/products/mistore-band-8-strap/images/"
		files := map[string]string{}
		for _, c := range []struct{ name, query string }{{"box", ""}, {"orange", "?sku=MB8S-ORG"}, {"olive", "?sku=MB8S-OLV&alt=Olive"}} {
			st, out, _ := s.do("PUT", base+c.name+c.query, string(photo(t, 500, 500, false)), append([]string{"Content-Type", "image/jpeg"}, manager...)...)
			if st != http.StatusOK {
				t.Fatalf("PUT %s: %d %s", c.name, st, out)
			}
			for _, im := range imagesOf(t, out).Images {
				files[im.Name] = mediaFile(im.URL)
			}
		}
		if _, out, _ := s.do("GET", "/api/v1/admin/products/mistore-band-8-strap", "", manager...); !strings.Contains(out, `"name":"orange","position":2,"url":"/media/`+files["orange"]+`/500","alt":"","sku":"MB8S-ORG"`) {
			t.Errorf("the admin product: %s", out)
		}
		main := func(query string) string {
			t.Helper()
			_, page, _ := s.do("GET", "/us/products/mistore-band-8-strap"+query, "")
			i := strings.Index(page, `class="product-art"`)
			if i < 0 {
				t.Fatalf("no product art on %s", query)
			}
			return mediaFile(page[strings.Index(page[i:], `src="`)+i+5:])
		}
		for query, want := range map[string]string{"?variant=MB8S-OLV": "olive", "?variant=MB8S-ORG": "orange", "?variant=MB8S-PNK": "box"} {
			if got := main(query); got != files[want] {
				t.Errorf("%s shows %s, want the %s photo (%s)", query, got, want, files[want])
			}
		}
		id, token := s.cartWith("MB8S-ORG", 1)
		lineImage := func() string {
			t.Helper()
			_, out, _ := s.do("GET", "/api/v1/carts/"+id, "", "X-Cart-Token", token)
			var c struct {
				Lines []struct {
					Image string `json:"image"`
				} `json:"lines"`
			}
			if err := json.Unmarshal([]byte(out), &c); err != nil || len(c.Lines) != 1 {
				t.Fatalf("cart: %v %s", err, out)
			}
			return mediaFile(c.Lines[0].Image)
		}
		if got := lineImage(); got != files["orange"] {
			t.Errorf("the orange strap's cart line shows %s, want the orange photo", got)
		}
		// Not a variant of this product: refused, nothing changed.
		if st, out, _ := s.do("PUT", base+"black?sku=MB8-BLK", string(photo(t, 50, 50, false)), append([]string{"Content-Type", "image/jpeg"}, manager...)...); st != 422 || !strings.Contains(out, `"field":"sku"`) {
			t.Errorf("a photo of another product's variant: %d %s", st, out)
		}
		if st, _, _ := s.do("PATCH", base+"orange", `{"sku":"NOPE"}`, manager...); st != 422 {
			t.Errorf("PATCH to an unknown SKU: %d", st)
		}
		// Cleared, the orange photo shows the product: the line shows the cover.
		if st, out, _ := s.do("PATCH", base+"orange", `{"sku":""}`, manager...); st != http.StatusOK || !strings.Contains(out, `"name":"orange","position":2,"url":"/media/`+files["orange"]+`/500","alt":"","sku":""`) {
			t.Fatalf("clear the variant: %d %s", st, out)
		}
		if got := lineImage(); got != files["box"] {
			t.Errorf("after clearing, the cart line shows %s, want the cover", got)
		}
	})
}

// BenchmarkMedia serves an 800-pixel rendition of a product photo from
// SQLite, as a product page's visitors ask for it (a browser that has it
// asks no more: it is cached as immutable).
func BenchmarkMedia(b *testing.B) {
	d := dbtest.Open(b, db.SQLite)
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	if _, err := demo.Seed(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 2000, 1500))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 31 / 7) // noise-like, so the JPEG is photo-sized
	}
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	pic, err := media.Process(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "bench"})
	p, err := c.PutImage(ctx, "mistore-band-8", catalog.ImageInput{Name: "front"}, pic)
	if err != nil {
		b.Fatal(err)
	}
	s, err := web.New(web.Deps{DB: d, Catalog: c, Version: "test", Theme: theme(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("800px", func(b *testing.B) {
		b.SetBytes(int64(len(pic.Renditions[1].Data)))
		runGet(b, s, "/media/"+p.Photos[0].File+"/800")
	})
}
