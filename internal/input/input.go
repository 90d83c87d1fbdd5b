// Package input holds the error the back office's writes return for input
// they refuse. Catalog, checkout, inventory and order writes all name the
// field at fault the same way, so that the web layer answers every one of
// them alike: a 422 invalid_field in the API, the sentence beside the
// field in a form.
package input

import "mistore/internal/locale"

// FieldError is input a write refuses, naming the field at fault. Its
// Error is a sentence staff can act on ("The reseller URL must start with
// https://."), shown as it is.
type FieldError struct {
	Field string
	Msg   string
	// Err is the sentinel it stands for, if any, so that errors.Is can
	// tell one refusal from the others (inventory.ErrNegativeStock).
	Err error
	// Why is Msg as a message, for the few storefront forms that show it
	// in their reader's language (a return request); zero when unset.
	Why locale.Msg
}

// Error returns the sentence shown to the editor.
func (e *FieldError) Error() string { return e.Msg }

// InvalidField names the field at fault, for the API's error body.
func (e *FieldError) InvalidField() string { return e.Field }

// Unwrap returns the sentinel, or nil.
func (e *FieldError) Unwrap() error { return e.Err }

// Invalid returns a *FieldError on field whose sentence is format with
// args.
func Invalid(field, format string, args ...any) error {
	why := locale.M(format, args...)
	return &FieldError{Field: field, Msg: why.String(), Why: why}
}
