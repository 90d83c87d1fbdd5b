package catalog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"mistore/internal/db"
	"mistore/internal/media"
)

// MaxPhotos is how many photos one product may have.
const MaxPhotos = 20

// maxAltLen bounds a photo's text alternative, in characters.
const maxAltLen = 300

// PhotoPrefix starts the image name Cover gives for an uploaded photo
// ("media:" and the photo's file), which a built-in art name, made of
// lowercase letters, digits and hyphens, can never be.
const PhotoPrefix = "media:"

// ErrImageNotFound: the product has no photo of that name, or no photo
// file has that name.
var ErrImageNotFound = errors.New("image not found")

// Photo is a picture of a product staff uploaded. Name is what staff call
// it (unique within the product); File names its current renditions and
// changes whenever the picture is replaced, so that their addresses can
// be cached for good.
type Photo struct {
	Name string
	File string
	Alt  string
	// SKU is the variant the photo shows, or empty for the product as a
	// whole.
	SKU string
	// Width and Height are the picture's, upright.
	Width, Height int
	// Widths are those of its renditions, narrowest first.
	Widths []int
}

// Cover is the name of the image that stands for the product in lists
// and link previews: its first photo, as PhotoPrefix and the photo's
// file, or else its built-in art.
func (p *Product) Cover() string { return p.CoverFor("") }

// CoverFor is Cover for the variant sku (a cart's line): the first photo
// of that variant, if it has one.
func (p *Product) CoverFor(sku string) string {
	if ph, ok := p.PhotoFor(sku); ok {
		return PhotoPrefix + ph.File
	}
	return p.Image
}

// PhotoFor returns the photo to show first for the variant sku: its own
// first photo, else the product's first; false when there are none.
func (p *Product) PhotoFor(sku string) (Photo, bool) {
	if sku != "" {
		for _, ph := range p.Photos {
			if ph.SKU == sku {
				return ph, true
			}
		}
	}
	if len(p.Photos) == 0 {
		return Photo{}, false
	}
	return p.Photos[0], true
}

// Photo returns the product's photo called name.
func (p *Product) Photo(name string) (Photo, bool) {
	for _, ph := range p.Photos {
		if ph.Name == name {
			return ph, true
		}
	}
	return Photo{}, false
}

// RenditionWidth is the width of the rendition ImageRendition serves to a
// page that asks for width: the narrowest at least that wide, or else the
// widest.
func (ph Photo) RenditionWidth(width int) int {
	for _, w := range ph.Widths {
		if w >= width {
			return w
		}
	}
	return ph.Widths[len(ph.Widths)-1]
}

// imageRecord is a photo as the audit log keeps it: never its bytes.
type imageRecord struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Alt      string `json:"alt"`
	SKU      string `json:"sku,omitempty"`
	Position int    `json:"position"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
}

func imageRecordOf(p *Product, name string) *imageRecord {
	for i, ph := range p.Photos {
		if ph.Name == name {
			return &imageRecord{ph.Name, ph.File, ph.Alt, ph.SKU, i + 1, ph.Width, ph.Height}
		}
	}
	return nil
}

// CheckImageName validates the name staff give a photo: like a slug, 1 to
// 60 lowercase letters, digits and hyphens.
func CheckImageName(name string) error {
	if len(name) > 60 || !imagePattern.MatchString(name) {
		return invalid("name", "A photo's name is 1 to 60 lowercase letters, digits and hyphens, such as front or side-view.")
	}
	return nil
}

// checkSKU validates the variant a photo of p shows: one of p's, or none.
func checkSKU(p *Product, sku string) error {
	if sku == "" {
		return nil
	}
	if _, ok := p.Variant(sku); !ok {
		return invalid("sku", "%s is not a variant of this product.", sku)
	}
	return nil
}

func checkAlt(alt string) (string, error) {
	alt = strings.TrimSpace(alt)
	if utf8.RuneCountInString(alt) > maxAltLen || strings.ContainsAny(alt, "\x00\r\n") {
		return "", invalid("alt", "The text alternative is one line of at most %d characters.", maxAltLen)
	}
	return alt, nil
}

// ImageInput is what staff say about a photo they upload.
type ImageInput struct {
	// Name is the photo's name within the product.
	Name string
	// Alt describes the picture for those who cannot see it; empty keeps
	// a replaced photo's own.
	Alt string
	// SKU is the variant the photo shows ("" for none); nil keeps a
	// replaced photo's own.
	SKU *string
}

// PutImage stores pic as the product's photo in.Name: a new photo goes
// last, one that exists keeps its place and gets the new picture (under
// a new file, so caches of the old one do not show it).
func (s *Service) PutImage(ctx context.Context, slug string, in ImageInput, pic media.Picture) (*Product, error) {
	name, alt := in.Name, in.Alt
	if err := CheckImageName(name); err != nil {
		return nil, err
	}
	alt, err := checkAlt(alt)
	if err != nil {
		return nil, err
	}
	if len(pic.Renditions) == 0 {
		return nil, invalid("image", "The picture has no renditions.")
	}
	file, err := newImageFile()
	if err != nil {
		return nil, err
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		now := s.dbNow()
		var id int64
		before := imageRecordOf(p, name)
		sku := ""
		if before != nil {
			sku = before.SKU
		}
		if in.SKU != nil {
			sku = *in.SKU
		}
		if err := checkSKU(p, sku); err != nil {
			return "", nil, nil, err
		}
		switch {
		case before != nil:
			if alt == "" {
				alt = before.Alt
			}
			err := tx.QueryRowContext(ctx, `UPDATE product_images SET file = $3, alt = $4, width = $5, height = $6, updated_at = $7, sku = $8
				WHERE product_id = $1 AND name = $2 RETURNING id`, p.ID, name, file, alt, pic.Width, pic.Height, now, nullSKU(sku)).Scan(&id)
			if err != nil {
				return "", nil, nil, fmt.Errorf("replace photo %s: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM image_renditions WHERE image_id = $1", id); err != nil {
				return "", nil, nil, fmt.Errorf("replace photo %s: %w", name, err)
			}
		case len(p.Photos) >= MaxPhotos:
			return "", nil, nil, invalid("name", "A product can have at most %d photos; delete one first.", MaxPhotos)
		default:
			err := tx.QueryRowContext(ctx, `INSERT INTO product_images (product_id, name, file, position, alt, width, height, created_at, updated_at, sku)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id`, p.ID, name, file, len(p.Photos), alt, pic.Width, pic.Height, now, nullSKU(sku)).Scan(&id)
			if err != nil {
				return "", nil, nil, fmt.Errorf("add photo %s: %w", name, err)
			}
		}
		for _, r := range pic.Renditions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_renditions (image_id, file, width, height, content_type, data)
				VALUES ($1, $2, $3, $4, $5, $6)`, id, file, r.Width, r.Height, r.ContentType, r.Data); err != nil {
				return "", nil, nil, fmt.Errorf("store photo %s at %d px: %w", name, r.Width, err)
			}
		}
		after := imageRecord{Name: name, File: file, Alt: alt, SKU: sku, Position: len(p.Photos) + 1, Width: pic.Width, Height: pic.Height}
		if before != nil {
			after.Position = before.Position
			return "product.image_put", before, after, nil
		}
		return "product.image_put", nil, after, nil
	})
}

// ImagePatch is a change of a photo; nil fields stay as they are.
type ImagePatch struct {
	Alt *string
	// Position is the photo's place, from 1 (the cover) to the number of
	// photos.
	Position *int
	// Move, when Position is nil, moves the photo this many places
	// later (earlier when negative), as far as it can go.
	Move int
	// SKU is the variant the photo shows; "" for none.
	SKU *string
}

// UpdateImage changes a photo's text alternative, place or variant.
func (s *Service) UpdateImage(ctx context.Context, slug, name string, patch ImagePatch) (*Product, error) {
	alt, position := patch.Alt, patch.Position
	var cleanAlt string
	if alt != nil {
		var err error
		if cleanAlt, err = checkAlt(*alt); err != nil {
			return nil, err
		}
	}
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		before := imageRecordOf(p, name)
		if before == nil {
			return "", nil, nil, fmt.Errorf("%w: %q of %s", ErrImageNotFound, name, slug)
		}
		after := *before
		if position == nil && patch.Move != 0 {
			to := min(max(before.Position+patch.Move, 1), len(p.Photos))
			position = &to
		}
		if alt != nil && cleanAlt != before.Alt {
			after.Alt = cleanAlt
			if _, err := tx.ExecContext(ctx, "UPDATE product_images SET alt = $3, updated_at = $4 WHERE product_id = $1 AND name = $2",
				p.ID, name, cleanAlt, s.dbNow()); err != nil {
				return "", nil, nil, fmt.Errorf("update photo %s: %w", name, err)
			}
		}
		if patch.SKU != nil && *patch.SKU != before.SKU {
			if err := checkSKU(p, *patch.SKU); err != nil {
				return "", nil, nil, err
			}
			after.SKU = *patch.SKU
			if _, err := tx.ExecContext(ctx, "UPDATE product_images SET sku = $3, updated_at = $4 WHERE product_id = $1 AND name = $2",
				p.ID, name, nullSKU(after.SKU), s.dbNow()); err != nil {
				return "", nil, nil, fmt.Errorf("update photo %s: %w", name, err)
			}
		}
		if position != nil && *position != before.Position {
			if *position < 1 || *position > len(p.Photos) {
				return "", nil, nil, invalid("position", "The position is from 1 (the cover) to %d.", len(p.Photos))
			}
			names := make([]string, 0, len(p.Photos))
			for _, ph := range p.Photos {
				if ph.Name != name {
					names = append(names, ph.Name)
				}
			}
			names = slices.Insert(names, *position-1, name)
			if err := renumberImages(ctx, tx, p.ID, names); err != nil {
				return "", nil, nil, err
			}
			after.Position = *position
		}
		if after == *before {
			return "", nil, nil, nil
		}
		return "product.image_update", before, after, nil
	})
}

// DeleteImage removes a product's photo and its renditions.
func (s *Service) DeleteImage(ctx context.Context, slug, name string) (*Product, error) {
	return s.edit(ctx, slug, func(tx db.Querier, p *Product) (string, any, any, error) {
		before := imageRecordOf(p, name)
		if before == nil {
			return "", nil, nil, fmt.Errorf("%w: %q of %s", ErrImageNotFound, name, slug)
		}
		// Its renditions go with it (ON DELETE CASCADE).
		if _, err := tx.ExecContext(ctx, "DELETE FROM product_images WHERE product_id = $1 AND name = $2", p.ID, name); err != nil {
			return "", nil, nil, fmt.Errorf("delete photo %s: %w", name, err)
		}
		var rest []string
		for _, ph := range p.Photos {
			if ph.Name != name {
				rest = append(rest, ph.Name)
			}
		}
		if err := renumberImages(ctx, tx, p.ID, rest); err != nil {
			return "", nil, nil, err
		}
		return "product.image_delete", before, nil, nil
	})
}

// nullSKU stores "no variant" as NULL.
func nullSKU(sku string) any {
	if sku == "" {
		return nil
	}
	return sku
}

// renumberImages gives the product's photos the positions of names' order.
func renumberImages(ctx context.Context, tx db.Querier, productID int64, names []string) error {
	for i, n := range names {
		if _, err := tx.ExecContext(ctx, "UPDATE product_images SET position = $3 WHERE product_id = $1 AND name = $2", productID, n, i); err != nil {
			return fmt.Errorf("order photos: %w", err)
		}
	}
	return nil
}

// newImageFile is a new photo file's name: random, so that nobody can
// guess the address of a picture before it is published, and never used
// twice.
func newImageFile() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("name photo file: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Rendition is one stored size of a photo, to serve.
type Rendition = media.Rendition

// ImageRendition returns the rendition of photo file to serve to a page
// that wants it width pixels wide: the narrowest at least that wide, or
// else the widest there is. It fails with ErrImageNotFound for a file
// that does not exist (any more).
func (s *Service) ImageRendition(ctx context.Context, file string, width int) (Rendition, error) {
	var r Rendition
	err := s.db.Reader().QueryRowContext(ctx, `SELECT width, height, content_type, data FROM image_renditions
		WHERE file = $1 ORDER BY CASE WHEN width >= $2 THEN 0 ELSE 1 END, CASE WHEN width >= $2 THEN width ELSE -width END LIMIT 1`,
		file, width).Scan(&r.Width, &r.Height, &r.ContentType, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Rendition{}, fmt.Errorf("%w: file %q", ErrImageNotFound, file)
	}
	if err != nil {
		return Rendition{}, fmt.Errorf("read photo %s: %w", file, err)
	}
	return r, nil
}

// PhotoFileLive reports whether file is the file of a product's photo in
// the catalog as this process last loaded it: false for a photo deleted
// or replaced since, and (for a moment) for one another instance has
// just uploaded.
func (s *Service) PhotoFileLive(ctx context.Context, file string) bool {
	snap, err := s.current(ctx)
	return err == nil && snap.photoFiles[file]
}

// photosQuery reads photos with their renditions' widths, in order; the
// product's id comes first.
const photosQuery = `SELECT i.product_id, i.name, i.file, i.alt, coalesce(i.sku, ''), i.width, i.height, r.width
	FROM product_images i JOIN image_renditions r ON r.image_id = i.id`

// scanPhotos appends each row of photosQuery to the photos of the product
// byID gives.
func scanPhotos(rows *sql.Rows, byID func(int64) *Product) error {
	var pid int64
	var ph Photo
	var w int
	if err := rows.Scan(&pid, &ph.Name, &ph.File, &ph.Alt, &ph.SKU, &ph.Width, &ph.Height, &w); err != nil {
		return err
	}
	p := byID(pid)
	if p == nil {
		return nil
	}
	if n := len(p.Photos); n > 0 && p.Photos[n-1].File == ph.File {
		p.Photos[n-1].Widths = append(p.Photos[n-1].Widths, w)
		return nil
	}
	ph.Widths = []int{w}
	p.Photos = append(p.Photos, ph)
	return nil
}
