package checkout

import "testing"

// TestFieldErrorSentence checks that the API's sentence for a field's
// problem reads as English whether the page's sentence goes on from the
// field's name ("Is required.") or stands alone ("This store ships to US
// only.").
func TestFieldErrorSentence(t *testing.T) {
	for _, c := range []struct {
		err  *FieldError
		want string
	}{
		{fieldError("email", "Must be an email address such as you@example.com."), "The email must be an email address such as you@example.com."},
		{fieldError("shipping_address.line1", "Is required."), "The shipping_address.line1 is required."},
		{fieldError("shipping_address.country", "This store ships to %s only.", "US"), "This store ships to US only."},
		{fieldError("shipping_method", "There is no shipping method %q in %s.", "teleport", "the United States"),
			`There is no shipping method "teleport" in the United States.`},
		{fieldError("shipping_address.region", "The province or state is required."), "The province or state is required."},
	} {
		if got := c.err.Sentence(); got != c.want {
			t.Errorf("%s: %q, want %q", c.err.Field, got, c.want)
		}
	}
}
