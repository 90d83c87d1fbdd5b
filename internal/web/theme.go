package web

import (
	"fmt"

	"mistore/internal/locale"
)

// Theme is what a store's pages are made of: the static files with their
// checksums and compressed copies, the parsed templates with their
// per-language clones, and the message catalogs they speak. Loading one
// parses and compresses everything, which takes a tenth of a second; once
// loaded it does not change, and any number of servers may share it.
type Theme struct {
	assets  *assets
	pages   *pages
	locales *locale.Catalog
}

// LoadTheme builds the theme from the embedded files, speaking locales
// (nil: the embedded message catalogs).
func LoadTheme(locales *locale.Catalog) (*Theme, error) {
	var err error
	if locales == nil {
		if locales, err = locale.Load(); err != nil {
			return nil, err
		}
	}
	th := &Theme{locales: locales}
	if th.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if th.pages, err = loadPages(th.assets, locales.Lang("en-US")); err != nil {
		return nil, err
	}
	return th, nil
}

// theme returns deps' theme, loading one when there is none.
func (deps Deps) theme() (*Theme, error) {
	if deps.Theme == nil {
		return LoadTheme(deps.Locales)
	}
	if deps.Locales != nil && deps.Locales != deps.Theme.locales {
		return nil, fmt.Errorf("web: the theme speaks other locales than Deps.Locales")
	}
	return deps.Theme, nil
}
