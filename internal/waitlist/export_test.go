package waitlist

import "context"

// SetBeforeCommit makes every notifier batch run fn before its commit.
func (s *Service) SetBeforeCommit(fn func(batch int) error) { s.beforeCommit = fn }

// ForgeUnsubscribe signs an unsubscribe token for entry id as if it
// belonged to email: what an attacker who knew the key's output for
// their own address would try on someone else's entry.
func (s *Service) ForgeUnsubscribe(ctx context.Context, id int64, email string, productID int64, market string) string {
	key, _ := s.secret(ctx)
	e := &Entry{ID: id, Email: email, ProductID: productID, Market: market}
	return unsubscribeToken(key, e)
}

// Tokens returns entry e's confirmation and unsubscribe tokens.
func (s *Service) Tokens(ctx context.Context, e *Entry) (confirm, unsubscribe string) {
	key, _ := s.secret(ctx)
	return confirmToken(key, e), unsubscribeToken(key, e)
}
