package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"mistore/internal/locale"
)

// Every message the storefront asks for by a literal key — {{t "…"}} in a
// template, .T("…") or locale.M("…") in Go — has a Chinese translation.
// Keys that only exist at run time are caught by the cn page tests
// through Catalog.Missing.
func TestStorefrontMessagesTranslated(t *testing.T) {
	t.Parallel()
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	inTemplate := regexp.MustCompile(`(?:\{\{-?|\()\s*t\s+("(?:[^"\\]|\\.)*")`)
	inGo := regexp.MustCompile(`(?:\.T\(|\.Say\(locale\.M\(|locale\.M\()("(?:[^"\\]|\\.)*")`)
	keys := map[string]string{} // key -> where
	add := func(where, quoted string) {
		k, err := strconv.Unquote(quoted)
		if err != nil {
			t.Errorf("%s: cannot read key %s: %v", where, quoted, err)
			return
		}
		keys[k] = where
	}
	err = fs.WalkDir(templateFiles, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), "admin_") {
			return err
		}
		b, err := fs.ReadFile(templateFiles, path)
		if err != nil {
			return err
		}
		for _, m := range inTemplate.FindAllStringSubmatch(string(b), -1) {
			add(path, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range inGo.FindAllStringSubmatch(string(b), -1) {
			add(path, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("found no message keys: the patterns no longer match the templates")
	}
	var missing []string
	for k, where := range keys {
		if !cat.Has("zh-CN", k) {
			missing = append(missing, where+": "+strconv.Quote(k))
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no Chinese translation: %s", m)
	}
}
