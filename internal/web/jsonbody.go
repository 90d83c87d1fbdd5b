package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// maxJSONBody bounds an API request body: no request the API takes comes
// near it, and a larger one is refused before it is parsed.
const maxJSONBody = 64 << 10

// Request-body outcomes, mapped to API codes in errorTable. Errors carry
// the sentence for the client and match these with errors.Is.
var (
	errMalformedBody   = errors.New("malformed request body")
	errBodyTooLarge    = errors.New("request body too large")
	errUnsupportedType = errors.New("unsupported content type")
)

// computedFields are what the store works out itself. A client that sends
// one may believe it sets a price, so it is told plainly that it does not,
// rather than have the field quietly ignored.
var computedFields = []string{"price", "unit_price", "total", "subtotal", "discount"}

// bodyError is a request-body outcome with its message; its text is shown
// to the client as it is.
type bodyError struct {
	kind error
	msg  string
}

func (e *bodyError) Error() string { return e.msg }
func (e *bodyError) Unwrap() error { return e.kind }

func malformed(format string, args ...any) error {
	return &bodyError{kind: errMalformedBody, msg: fmt.Sprintf(format, args...)}
}

// decodeJSON reads r's body as exactly one JSON object into v, strictly:
// at most maxJSONBody bytes, no fields v does not declare, no values of
// the wrong type, nothing after the object, and none of the fields the
// store computes. Its errors are ready for apiFail: 400 malformed_request
// for what is not a JSON object, 400 invalid_parameter naming the field
// for a field that is wrong, 413 and 415 for size and content type.
func decodeJSON(r *http.Request, v any) error {
	body, err := readJSONBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("The request body is empty; send a JSON object.")
	}
	return decodeJSONBytes(body, v)
}

// decodeOptionalJSON is decodeJSON for requests whose body may be left
// out: an empty body leaves v as it is.
func decodeOptionalJSON(r *http.Request, v any) error {
	body, err := readJSONBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeJSONBytes(body, v)
}

// readJSONBody checks the content type and reads at most maxJSONBody bytes.
func readJSONBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, &bodyError{kind: errUnsupportedType, msg: "Send the request body as JSON, with Content-Type: application/json."}
		}
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > maxJSONBody {
		return nil, &bodyError{kind: errBodyTooLarge, msg: fmt.Sprintf("The request body is larger than %d KB.", maxJSONBody>>10)}
	}
	return body, nil
}

// decodeJSONBytes is the strict decoding of decodeJSON.
func decodeJSONBytes(body []byte, v any) error {
	// First pass: one well-formed object and nothing after it, and a look
	// at its field names before any is given meaning.
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		return syntaxProblem(err)
	}
	if fields == nil {
		return malformed("The request body must be a JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("The request body must hold exactly one JSON value.")
	}
	for name := range fields {
		for _, c := range computedFields {
			if strings.EqualFold(name, c) {
				return badParam(name, "%s cannot be sent: prices, totals and discounts are computed by the store.", name)
			}
		}
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return badParam(te.Field, "%s %s.", te.Field, wantType(te.Type))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name = strings.Trim(name, `"`)
			return badParam(name, "%s is not a field of this request.", name)
		}
		return syntaxProblem(err)
	}
	return nil
}

// syntaxProblem explains a body that is not one JSON object.
func syntaxProblem(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return malformed("The request body is not valid JSON: %s (at byte %d).", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return malformed("The request body is not valid JSON: it ends too soon.")
	case errors.As(err, &te):
		return malformed("The request body must be a JSON object, not %s.", te.Value)
	}
	return malformed("The request body is not valid JSON.")
}

// wantType says what a field of type t must hold, as the end of a
// sentence that starts with the field's name.
func wantType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a whole number, such as 2"
	case reflect.Float32, reflect.Float64:
		return "must be a number"
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Slice, reflect.Array:
		return "must be a list"
	}
	return "must be an object"
}
