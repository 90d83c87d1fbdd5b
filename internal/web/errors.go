package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"mistore/internal/catalog"
	"mistore/internal/market"
)

// Error codes of the JSON API (API.md). Domain outcomes map to them in
// errorTable, in this one place.
const (
	codeNotFound         = "not_found"
	codeInvalidParameter = "invalid_parameter"
	codeMalformed        = "malformed_request"
	codeMethodNotAllowed = "method_not_allowed"
	codeUnavailable      = "service_unavailable"
	codeInternal         = "internal_error"
)

// errorTable maps domain sentinel errors to an HTTP status and API code.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{catalog.ErrNotFound, http.StatusNotFound, codeNotFound},
	{market.ErrNotFound, http.StatusNotFound, codeNotFound},
}

// paramError is a bad query or path parameter, named so that the client
// can point at it.
type paramError struct {
	field string
	msg   string
}

func (e *paramError) Error() string { return e.msg }

func badParam(field, format string, args ...any) error {
	return &paramError{field: field, msg: fmt.Sprintf(format, args...)}
}

// apiError is the body of every API error (API.md).
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// classify turns any error into what the client is told. Unknown errors
// are internal: their text stays in the log, never in the response.
func classify(err error) (int, apiError) {
	var pe *paramError
	if errors.As(err, &pe) {
		return http.StatusBadRequest, apiError{Code: codeInvalidParameter, Message: pe.msg, Field: pe.field}
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, apiError{Code: e.code, Message: userMessage(e.err, err)}
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, apiError{Code: codeUnavailable, Message: "The store took too long to answer; please try again."}
	}
	return http.StatusInternalServerError, apiError{Code: codeInternal, Message: "Something went wrong on our side; please try again."}
}

// userMessage is the sentence shown for a known domain error.
func userMessage(sentinel, err error) string {
	switch sentinel {
	case catalog.ErrNotFound:
		return "There is no such product."
	case market.ErrNotFound:
		return "There is no such market."
	}
	return err.Error()
}
