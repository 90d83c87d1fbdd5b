package catalog_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"testing"

	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/media"
)

func testPicture(t *testing.T, w, h int) media.Picture {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	pic, err := media.Process(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return pic
}

// TestConcurrentPhotos: staff (or a script) uploading at once never
// leaves two photos in one place, nor two rows for one name: twelve new
// photos at once take places 1 to 12, and twelve uploads of one new name
// leave one photo whose renditions are the last upload's.
func TestConcurrentPhotos(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
		newPhone(t, d, s, "mistore-phone-15", "MP15-BLK")
		ctx := staffCtx()
		pic := testPicture(t, 500, 500)
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				if _, err := s.PutImage(ctx, "mistore-phone-15", catalog.ImageInput{Name: fmt.Sprintf("view-%d", i)}, pic); err != nil {
					errs <- err
				}
			})
			wg.Go(func() {
				if _, err := s.PutImage(ctx, "mistore-phone-15", catalog.ImageInput{Name: "front"}, pic); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("upload: %v", err)
		}
		p, err := s.AdminProduct(ctx, "mistore-phone-15")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Photos) != n+1 {
			t.Fatalf("%d photos, want %d", len(p.Photos), n+1)
		}
		var positions []int
		rows, err := d.Read.Query("SELECT position FROM product_images ORDER BY position")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var pos int
			rows.Scan(&pos)
			positions = append(positions, pos)
		}
		rows.Close()
		for i, pos := range positions {
			if pos != i {
				t.Fatalf("positions %v, want 0 to %d once each", positions, n)
			}
		}
		var files, renditions int
		d.Read.QueryRow("SELECT count(DISTINCT file), count(*) FROM image_renditions").Scan(&files, &renditions)
		if files != n+1 || renditions != (n+1)*2 {
			t.Errorf("%d files in %d renditions, want %d in %d: a replaced picture left its renditions", files, renditions, n+1, (n+1)*2)
		}
		front, _ := p.Photo("front")
		if _, err := s.ImageRendition(ctx, front.File, 400); err != nil {
			t.Errorf("the front photo's rendition: %v", err)
		}
		if _, err := s.ImageRendition(ctx, "nosuchfile", 400); !errors.Is(err, catalog.ErrImageNotFound) {
			t.Errorf("an unknown file: %v", err)
		}
	})
}
