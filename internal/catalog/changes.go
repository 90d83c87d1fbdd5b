package catalog

import "context"

// Changed reloads the catalog and drops the display copy of stock after
// another instance changed either (changefeed.Catalog, changefeed.Stock),
// or when this one may have missed such news; key is not needed, since a
// reload is whole. A failed reload leaves the snapshot in place: the next
// revision check (Options.Recheck) tries again.
func (s *Service) Changed(ctx context.Context, _ string) error {
	if _, err := s.Refresh(ctx); err != nil {
		return err
	}
	return nil
}
