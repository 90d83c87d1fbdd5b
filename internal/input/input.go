// Package input holds the error the back office's writes return for input
// they refuse. Catalog, checkout, inventory and order writes all name the
// field at fault the same way, so that the web layer answers every one of
// them alike: a 422 invalid_field in the API, the sentence beside the
// field in a form.
package input

import "fmt"

// FieldError is input a write refuses, naming the field at fault. Its
// Error is a sentence staff can act on ("The reseller URL must start with
// https://."), shown as it is.
type FieldError struct {
	Field string
	Msg   string
	// Err is the sentinel it stands for, if any, so that errors.Is can
	// tell one refusal from the others (inventory.ErrNegativeStock).
	Err error
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
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}
