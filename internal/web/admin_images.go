package web

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"

	"mistore/internal/catalog"
	"mistore/internal/media"
	"mistore/internal/staff"
)

// Product photos: staff upload them on the product page or through the
// API (package media checks and scales them, package catalog keeps them),
// and the storefront serves their renditions from /media/.

// imageWorkers bounds the uploads being decoded and scaled at once, to
// half the cores (at least one): a camera photo takes a core for half a
// second, and the shoppers' requests must keep the rest.
func imageWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// mediaCacheControl lets browsers and CDNs keep a rendition for good: its
// file name is new whenever its picture changes.
const mediaCacheControl = "public, max-age=31536000, immutable"

// mediaWidths are the widths a page asks renditions at: the image
// routes answer any width with the nearest rendition, so these only
// decide which the pages name.
const (
	mediaCard  = 800  // a list's card or the cart: 400 px shown, at 2x
	mediaLarge = 1600 // the product page and link previews
	mediaThumb = 400
)

// adminImageRoutes registers the product-photo page actions and API.
func (s *Server) adminImageRoutes(a *adminRouter, slugParam paramDoc) {
	edit := staff.PermEditCatalog
	a.page("POST /admin/products/{slug}/images", edit, s.adminImageUpload)
	a.page("POST /admin/products/{slug}/images/{name}", edit, s.adminImageChange)
	nameParam := paramDoc{name: "name", in: "path", typ: "string", desc: "The photo's name within the product: 1 to 60 lowercase letters, digits and hyphens.", required: true}
	a.api("PUT /api/v1/admin/products/{slug}/images/{name}", edit, s.apiAdminImagePut, opDoc{
		summary: "Upload the product's photo called name, or replace its picture: the body is the JPEG, PNG or WebP file " +
			"itself (at most 20 MB and 50 megapixels). A new photo goes last. It is stored upright as its EXIF orientation says, " +
			"without its metadata, at 400, 800 and 1,600 pixels wide (never wider than it is).",
		response: "AdminProduct",
		params: []paramDoc{slugParam, nameParam, {name: "alt", in: "query", typ: "string",
			desc: "The photo's text alternative (at most 300 characters); left out, a replaced photo keeps its own."},
			{name: "sku", in: "query", typ: "string", desc: "The variant the photo shows, empty for none; left out, a replaced photo keeps its own."}},
	})
	a.api("PATCH /api/v1/admin/products/{slug}/images/{name}", edit, s.apiAdminImagePatch, opDoc{
		summary: "Change a photo's text alternative or its place: position 1 makes it the cover.",
		request: "AdminImagePatch", response: "AdminProduct", params: []paramDoc{slugParam, nameParam},
	})
	a.api("DELETE /api/v1/admin/products/{slug}/images/{name}", edit, s.apiAdminImageDelete, opDoc{
		summary: "Delete a photo; the product shows its built-in art again once it has none.", response: "AdminProduct",
		params: []paramDoc{slugParam, nameParam},
	})
}

// adminImageSchemas are the OpenAPI schemas of the product-photo API.
func adminImageSchemas() map[string]any {
	return map[string]any{
		"AdminImage": schemaObject([]string{"name", "position", "url", "alt", "sku", "width", "height", "widths"}, map[string]any{
			"name": schemaString, "position": schemaInteger, "alt": schemaString, "width": schemaInteger, "height": schemaInteger,
			"sku":    map[string]any{"type": "string", "description": "The variant the photo shows; empty for the product as a whole."},
			"url":    map[string]any{"type": "string", "description": "The widest rendition's path; /media/{file}/{width} gives the rendition nearest any width."},
			"widths": schemaArray(schemaInteger),
		}),
		"AdminImagePatch": schemaObject(nil, map[string]any{
			"alt":      schemaString,
			"sku":      map[string]any{"type": "string", "description": "The variant the photo shows (the product page shows it when that variant is chosen, the cart on its line); empty for none."},
			"position": map[string]any{"type": "integer", "minimum": 1, "description": "From 1, the cover, to the number of photos."},
		}),
	}
}

// adminImageErrors maps the photo outcomes to API codes.
var adminImageErrors = []errorMapping{
	{catalog.ErrImageNotFound, http.StatusNotFound, codeNotFound},
}

// adminImageJSON is a photo in the back office's product.
type adminImageJSON struct {
	Name     string `json:"name"`
	Position int    `json:"position"`
	URL      string `json:"url"`
	Alt      string `json:"alt"`
	SKU      string `json:"sku"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	Widths   []int  `json:"widths"`
}

func adminImagesOut(p *catalog.Product) []adminImageJSON {
	out := make([]adminImageJSON, len(p.Photos))
	for i, ph := range p.Photos {
		out[i] = adminImageJSON{Name: ph.Name, Position: i + 1, URL: mediaPath(ph.File, ph.Widths[len(ph.Widths)-1]),
			Alt: ph.Alt, SKU: ph.SKU, Width: ph.Width, Height: ph.Height, Widths: ph.Widths}
	}
	return out
}

// mediaPath is the address of photo file's rendition nearest width.
func mediaPath(file string, width int) string {
	return "/media/" + file + "/" + strconv.Itoa(width)
}

// imagePath is the address of the image that name names, as a product's
// Cover gives it: an uploaded photo's rendition nearest width, or a
// built-in art's SVG (the placeholder for none), which has no width.
func (a *assets) imagePath(name string, width int) (string, error) {
	if file, ok := strings.CutPrefix(name, catalog.PhotoPrefix); ok {
		return mediaPath(file, width), nil
	}
	if name == "" {
		name = "placeholder"
	}
	return a.URL("art/" + name + ".svg")
}

// srcset is the srcset attribute of a photo: each rendition and its width.
func srcset(ph catalog.Photo) string {
	var b strings.Builder
	for i, w := range ph.Widths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %dw", mediaPath(ph.File, w), w)
	}
	return b.String()
}

// processImage reads an uploaded picture from body and makes its
// renditions, a few at a time (imageWorkers).
func (s *Server) processImage(r *http.Request, body io.Reader) (media.Picture, error) {
	data, err := io.ReadAll(io.LimitReader(body, media.MaxBytes+1))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			return media.Picture{}, media.ErrTooLarge
		}
		return media.Picture{}, fmt.Errorf("read upload: %w", err)
	}
	select {
	case s.imageWork <- struct{}{}:
	case <-r.Context().Done():
		return media.Picture{}, r.Context().Err()
	}
	defer func() { <-s.imageWork }()
	return media.Process(data)
}

// --- API ---

func (s *Server) apiAdminImagePut(w http.ResponseWriter, r *http.Request) {
	pic, err := s.processImage(r, http.MaxBytesReader(w, r.Body, media.MaxBytes))
	if err != nil {
		s.apiFail(w, r, imageInputError(err))
		return
	}
	in := catalog.ImageInput{Name: r.PathValue("name"), Alt: r.URL.Query().Get("alt")}
	if q := r.URL.Query(); q.Has("sku") {
		sku := q.Get("sku")
		in.SKU = &sku
	}
	p, err := s.catalog.PutImage(r.Context(), r.PathValue("slug"), in, pic)
	s.answerProduct(w, r, http.StatusOK, p, err)
}

// imageInputError names the field of a refused upload for the API and
// the page, with a sentence staff can act on.
func imageInputError(err error) error {
	switch {
	case errors.Is(err, media.ErrNotImage):
		return &catalog.FieldError{Field: "image", Msg: "The file is not a JPEG, PNG or WebP picture, or it is damaged."}
	case errors.Is(err, media.ErrTooLarge):
		return &bodyError{kind: errBodyTooLarge, msg: pictureTooLarge}
	}
	return err
}

// pictureTooLarge says what media.ErrTooLarge means.
var pictureTooLarge = fmt.Sprintf("The picture is too large: at most %d MB, %d megapixels and %d pixels a side.",
	media.MaxBytes>>20, media.MaxPixels/1_000_000, media.MaxSide)

func (s *Server) apiAdminImagePatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Alt      *string `json:"alt"`
		Position *int    `json:"position"`
		SKU      *string `json:"sku"`
	}
	if err := decodeJSON(r, &in); err != nil {
		s.apiFail(w, r, err)
		return
	}
	p, err := s.catalog.UpdateImage(r.Context(), r.PathValue("slug"), r.PathValue("name"), catalog.ImagePatch{Alt: in.Alt, Position: in.Position, SKU: in.SKU})
	s.answerProduct(w, r, http.StatusOK, p, err)
}

func (s *Server) apiAdminImageDelete(w http.ResponseWriter, r *http.Request) {
	p, err := s.catalog.DeleteImage(r.Context(), r.PathValue("slug"), r.PathValue("name"))
	s.answerProduct(w, r, http.StatusOK, p, err)
}

// --- pages ---

// adminImageUpload is the product page's upload form (multipart): a file,
// the photo's name and its text alternative.
func (s *Server) adminImageUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, media.MaxBytes+64<<10)
	file, _, err := r.FormFile("file")
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			s.productWrite(w, r, "", imageFormError(media.ErrTooLarge))
			return
		}
		s.productWrite(w, r, "", &catalog.FieldError{Field: "file", Msg: "Choose a JPEG, PNG or WebP file to upload."})
		return
	}
	defer file.Close()
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := catalog.CheckImageName(name); err != nil {
		s.productWrite(w, r, "", err)
		return
	}
	pic, err := s.processImage(r, file)
	if err != nil {
		s.productWrite(w, r, "", imageFormError(err))
		return
	}
	sku := r.PostFormValue("sku")
	_, err = s.catalog.PutImage(r.Context(), r.PathValue("slug"), catalog.ImageInput{Name: name, Alt: r.PostFormValue("alt"), SKU: &sku}, pic)
	s.productWrite(w, r, "Photo "+name+" saved.", err)
}

// imageFormError is imageInputError as the product page shows it.
func imageFormError(err error) error {
	if errors.Is(err, media.ErrTooLarge) {
		return &catalog.FieldError{Field: "file", Msg: pictureTooLarge}
	}
	return imageInputError(err)
}

// adminImageChange is a photo's row on the product page: save its text
// alternative, move it up or down, or delete it (the button's action).
func (s *Server) adminImageChange(w http.ResponseWriter, r *http.Request) {
	ctx, slug, name := r.Context(), r.PathValue("slug"), r.PathValue("name")
	var err error
	flash := ""
	switch action := r.PostFormValue("action"); action {
	case "delete":
		_, err = s.catalog.DeleteImage(ctx, slug, name)
		flash = "Photo " + name + " deleted."
	case "up", "down":
		move := map[string]int{"up": -1, "down": 1}[action]
		_, err = s.catalog.UpdateImage(ctx, slug, name, catalog.ImagePatch{Move: move})
		flash = "Photo " + name + " moved."
	default:
		alt, sku := r.PostFormValue("alt"), r.PostFormValue("sku")
		_, err = s.catalog.UpdateImage(ctx, slug, name, catalog.ImagePatch{Alt: &alt, SKU: &sku})
		flash = "Photo " + name + " saved."
	}
	s.productWrite(w, r, flash, err)
}

// --- the storefront's /media/ ---

// serveMedia answers /media/{file}/{width} with the rendition of the photo
// file nearest width pixels.
func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	width, err := strconv.Atoi(r.PathValue("width"))
	if err != nil || width < 1 || width > media.MaxSide || len(file) > 64 {
		http.NotFound(w, r)
		return
	}
	etag := `"` + file + "-" + strconv.Itoa(width) + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.Header().Set("Cache-Control", mediaCacheControl)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	// Only the photos the catalog shows are kept in memory: a deleted
	// or replaced picture is read (and found gone) from the database, as
	// is one uploaded a moment ago through another instance.
	key := file + "/" + strconv.Itoa(width)
	live := s.catalog.PhotoFileLive(r.Context(), file)
	rend, ok := s.media.get(key)
	if !ok || !live {
		var err error
		rend, err = s.catalog.ImageRendition(r.Context(), file, width)
		if errors.Is(err, catalog.ErrImageNotFound) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.log.ErrorContext(r.Context(), "serve photo", "file", file, "err", err)
			http.Error(w, "The picture could not be read.", http.StatusServiceUnavailable)
			return
		}
		if live {
			s.media.put(key, rend)
		}
	}
	h := w.Header()
	h.Set("Content-Type", rend.ContentType)
	h.Set("Content-Length", strconv.Itoa(len(rend.Data)))
	h.Set("Cache-Control", mediaCacheControl)
	h.Set("ETag", etag)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(rend.Data)
	}
}

// ogImage makes a product's cover the page's Open Graph image: its
// rendition nearest mediaLarge, with that rendition's size, or else the
// built-in art.
func (s *Server) ogImage(p *page, prod *catalog.Product) {
	ph, ok := prod.PhotoFor("")
	if !ok {
		if art, err := s.assets.imagePath(prod.Image, mediaLarge); err == nil {
			p.OGImage = art
		}
		return
	}
	w := ph.RenditionWidth(mediaLarge)
	p.OGImage = mediaPath(ph.File, mediaLarge)
	p.OGImageWidth, p.OGImageHeight = w, media.ScaledHeight(ph.Width, ph.Height, w)
	p.OGImageAlt = cmp.Or(ph.Alt, prod.Name)
}
