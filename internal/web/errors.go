package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"mistore/internal/cart"
	"mistore/internal/catalog"
	"mistore/internal/checkout"
	"mistore/internal/customer"
	"mistore/internal/db"
	"mistore/internal/flashsale"
	"mistore/internal/idempotency"
	"mistore/internal/inventory"
	"mistore/internal/jobs"
	"mistore/internal/market"
	"mistore/internal/order"
	"mistore/internal/payment"
	"mistore/internal/ratelimit"
	"mistore/internal/staff"

	"mistore/internal/waitlist"
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
	// The Idempotency-Key codes, which idempotency.go answers itself with
	// the header as the field, and a request body over its limit.
	codeIdempotencyKeyReused = "idempotency_key_reused"
	codeIdempotencyKeyInUse  = "idempotency_key_in_use"
	codeTooLarge             = "request_too_large"
	codeUnsupportedType      = "unsupported_media_type"
	// Cart outcomes (cart_api.go).
	codeInvalidQuantity = "invalid_quantity"
	codeNotSoldInMarket = "not_sold_in_market"
	codeOutOfStock      = "out_of_stock"
	codeCartCheckedOut  = "cart_checked_out"
	codeCartFull        = "cart_full"
	// Accounts (api_customers.go) and abuse limits.
	codeUnauthorized       = "unauthorized"
	codeInvalidCredentials = "invalid_credentials"
	codeEmailTaken         = "email_taken"
	codeInvalidToken       = "invalid_token"
	codeRateLimited        = "rate_limited"
	// Flash sales (flashsale.go): a claim's outcomes, and overload, which
	// is a 503 with Retry-After and retry_after_ms.
	codeSoldOut            = "sold_out"
	codeNotStarted         = "not_started"
	codeEnded              = "ended"
	codePaused             = "paused"
	codeNotRegistered      = "not_registered"
	codeLimitReached       = "limit_reached"
	codeRegistrationClosed = "registration_closed"
	codeClaimExpired       = "claim_expired"
	codeInvalidState       = "invalid_state"
	codeOverloaded         = "overloaded"
	codeClaimCart          = "claim_cart"
	// Comments and reviews (community.go).
	codeNotAuthor        = "not_author"
	codeEditWindowClosed = "edit_window_closed"
	codeCommentDeleted   = "comment_deleted"
	codeAlreadyReviewed  = "already_reviewed"
	codeOwnReview        = "own_review"
	codeBanned           = "banned"
	codeAccountDisabled  = "account_disabled"
)

// errorMapping maps one domain sentinel error to an HTTP status and API code.
type errorMapping struct {
	err    error
	status int
	code   string
}

// errorTable is every mapping: the storefront's below, then each back
// office surface's own (admin_*.go), so the table stays one list.
var errorTable = slices.Concat(storeErrors, flashSaleErrors, adminErrors, adminOrderErrors, adminCatalogErrors, adminImageErrors, adminShopErrors, adminDashboardErrors, communityErrors, waitlistErrors)

// storeErrors maps the storefront's domain sentinel errors.
var storeErrors = []errorMapping{
	{catalog.ErrNotFound, http.StatusNotFound, codeNotFound},
	{market.ErrNotFound, http.StatusNotFound, codeNotFound},
	{order.ErrNotFound, http.StatusNotFound, codeNotFound},
	{order.ErrUnknownProvider, http.StatusNotFound, codeNotFound},
	// Answered by idempotency.go; a handler that meets it answers
	// something it replaces.
	{idempotency.ErrTaken, http.StatusConflict, codeIdempotencyKeyInUse},
	{order.ErrState, http.StatusConflict, "invalid_state"},
	{checkout.ErrUnknownCart, http.StatusNotFound, codeNotFound},
	{checkout.ErrEmptyCart, http.StatusUnprocessableEntity, "empty_cart"},
	{checkout.ErrNotSold, http.StatusUnprocessableEntity, "not_sold_in_market"},
	{checkout.ErrCoupon, http.StatusUnprocessableEntity, "invalid_coupon"},
	{inventory.ErrOutOfStock, http.StatusConflict, "out_of_stock"},
	{payment.ErrInvalidSignature, http.StatusBadRequest, "invalid_signature"},
	{payment.ErrStaleWebhook, http.StatusBadRequest, "stale_webhook"},
	{payment.ErrMalformedWebhook, http.StatusBadRequest, "malformed_webhook"},
	// Request bodies (jsonbody.go).
	{errMalformedBody, http.StatusBadRequest, codeMalformed},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, codeTooLarge},
	{errUnsupportedType, http.StatusUnsupportedMediaType, codeUnsupportedType},
	// Carts: a wrong token reads exactly like an unknown cart.
	{cart.ErrNotFound, http.StatusNotFound, codeNotFound},
	{cart.ErrLineNotFound, http.StatusNotFound, codeNotFound},
	{cart.ErrCheckedOut, http.StatusConflict, codeCartCheckedOut},
	{cart.ErrPurchaseLimit, http.StatusTooManyRequests, codeLimitReached},
	{cart.ErrQuantity, http.StatusUnprocessableEntity, codeInvalidQuantity},
	{cart.ErrNotSoldInMarket, http.StatusUnprocessableEntity, codeNotSoldInMarket},
	{cart.ErrOutOfStock, http.StatusConflict, codeOutOfStock},
	{cart.ErrCartFull, http.StatusUnprocessableEntity, codeCartFull},
	// Accounts: an unknown email and a wrong password are one answer.
	{errSignInRequired, http.StatusUnauthorized, codeUnauthorized},
	{customer.ErrNoSession, http.StatusUnauthorized, codeUnauthorized},
	{customer.ErrInvalidCredentials, http.StatusUnauthorized, codeInvalidCredentials},
	{customer.ErrEmailTaken, http.StatusConflict, codeEmailTaken},
	{customer.ErrInvalidToken, http.StatusBadRequest, codeInvalidToken},
	{customer.ErrNotFound, http.StatusNotFound, codeNotFound},
	{ratelimit.ErrLimited, http.StatusTooManyRequests, codeRateLimited},
}

// flashSaleErrors maps the flash sales' outcomes. ErrNotFound is listed
// before the claim outcomes only for reading order: each sentinel is
// distinct, so the order does not decide anything.
var flashSaleErrors = []errorMapping{
	{flashsale.ErrNotFound, http.StatusNotFound, codeNotFound},
	{flashsale.ErrSoldOut, http.StatusConflict, codeSoldOut},
	{flashsale.ErrNotStarted, http.StatusConflict, codeNotStarted},
	{flashsale.ErrEnded, http.StatusConflict, codeEnded},
	{flashsale.ErrPaused, http.StatusConflict, codePaused},
	{flashsale.ErrNotRegistered, http.StatusForbidden, codeNotRegistered},
	{flashsale.ErrLimitReached, http.StatusTooManyRequests, codeLimitReached},
	{flashsale.ErrRegistrationClosed, http.StatusConflict, codeRegistrationClosed},
	{flashsale.ErrClaimExpired, http.StatusConflict, codeClaimExpired},
	{flashsale.ErrState, http.StatusConflict, codeInvalidState},
	// Shed under overload: a 503 the client retries after Retry-After
	// (retryAfter sets it, and Retry-After-Ms).
	{flashsale.ErrBusy, http.StatusServiceUnavailable, codeOverloaded},
	// A claim's cart is bought as it is: no line of it can change.
	{cart.ErrClaimCart, http.StatusConflict, codeClaimCart},
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

// invalidFielder is a domain validation error that names the input field
// at fault; its Error() is the sentence the client is shown, so it must
// read as one ("The reseller URL must start with https://.").
type invalidFielder interface {
	error
	InvalidField() string
}

// apiError is the body of every API error (API.md).
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfterMs is set on a 503 overloaded: when a retry has a fair
	// chance, in milliseconds (Retry-After can only say whole seconds).
	RetryAfterMs int64 `json:"retry_after_ms,omitempty"`
}

// classify turns any error into what the client is told. Unknown errors
// are internal: their text stays in the log, never in the response.
func classify(err error) (int, apiError) {
	var pe *paramError
	if errors.As(err, &pe) {
		return http.StatusBadRequest, apiError{Code: codeInvalidParameter, Message: pe.msg, Field: pe.field}
	}
	var fe *checkout.FieldError
	if errors.As(err, &fe) {
		return http.StatusUnprocessableEntity, apiError{Code: "invalid_field", Message: fe.Sentence(), Field: fe.Field}
	}
	var cfe *customer.FieldError
	if errors.As(err, &cfe) && !errors.Is(err, customer.ErrEmailTaken) {
		return http.StatusUnprocessableEntity, apiError{Code: "invalid_field", Message: cfe.Msg, Field: cfe.Field}
	}
	var ife invalidFielder
	if errors.As(err, &ife) {
		return http.StatusUnprocessableEntity, apiError{Code: "invalid_field", Message: ife.Error(), Field: ife.InvalidField()}
	}
	var busy *flashsale.BusyError
	if errors.As(err, &busy) {
		return http.StatusServiceUnavailable, apiError{Code: codeOverloaded, Message: userMessage(flashsale.ErrBusy, err),
			RetryAfterMs: busyMillis(busy)}
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			out := apiError{Code: e.code, Message: userMessage(e.err, err)}
			if e.err == checkout.ErrCoupon {
				out.Field = "coupon_code"
			}
			return e.status, out
		}
	}
	if db.IsUnavailable(err) {
		return http.StatusServiceUnavailable, apiError{Code: codeUnavailable, Message: unavailableMessage}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return http.StatusServiceUnavailable, apiError{Code: codeUnavailable, Message: "The store took too long to answer; please try again."}
	}
	return http.StatusInternalServerError, apiError{Code: codeInternal, Message: "Something went wrong on our side; please try again."}
}

// userMessage is the sentence shown for a known domain error.
func userMessage(sentinel, err error) string {
	var notSold *checkout.NotSoldError
	var coupon *checkout.CouponError
	var oos *inventory.OutOfStockError
	switch {
	case errors.As(err, &notSold):
		return notSold.Reason
	case errors.As(err, &coupon):
		return coupon.Msg
	case errors.As(err, &oos):
		if oos.Available > 0 {
			return fmt.Sprintf("Only %d of %s are left; lower the quantity.", oos.Available, oos.SKU)
		}
		return fmt.Sprintf("%s is out of stock.", oos.SKU)
	}
	var overLimit *flashsale.OverLimitError
	if errors.As(err, &overLimit) {
		return overLimit.Error()
	}
	var exceeds *order.RefundExceedsError
	if errors.As(err, &exceeds) {
		return exceeds.Error()
	}
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		if msg := postingLimitMessage(limited.Rule, limited.RetryAfter); msg != "" {
			return msg
		}
		return fmt.Sprintf("Too many attempts; try again in %s.", waitText(limited.RetryAfter))
	}
	if msg := communityMessage(sentinel); msg != "" {
		return msg
	}
	switch sentinel {
	case errTwoStepDue:
		return "The shop requires two-step sign-in: turn yours on at /admin/account first."
	case errSignInRequired, customer.ErrNoSession:
		return "Sign in first: send Authorization: Bearer with a session token, or the session cookie."
	case customer.ErrInvalidCredentials:
		return "The email address or the password is not right."
	case customer.ErrEmailTaken:
		return "There is already an account with this email address; sign in, or reset its password."
	case customer.ErrInvalidToken:
		return "This link has expired or was already used; ask for a new one."
	case staff.ErrEmailTaken:
		return "There is already a staff member with this email address."
	case staff.ErrLastOwner:
		return "The last owner can be neither demoted nor disabled: make another member an owner first."
	case staff.ErrNotFound:
		return "There is no such staff member or API key."
	case staff.ErrInvalidCredentials:
		return "The email address or the password is not right."
	case staff.ErrWrongCode:
		return "That code is wrong, or was used already."
	case staff.ErrNoChallenge:
		return "No sign-in is waiting for a code: sign in with your password again."
	case staff.ErrTwoStepOn:
		return "Two-step sign-in is on already."
	case staff.ErrTwoStepNotSetUp:
		return "Two-step sign-in is not set up yet: start it from your account page."
	case jobs.ErrNotFound:
		return "There is no failed job with that id: it may have run again, or been dismissed."
	case order.ErrUnknownProvider:
		return "This store takes no payments through a provider of that name."
	case order.ErrNotFound:
		return "There is no such order, or its link is incomplete."
	case order.ErrState:
		return "The order can no longer be changed this way."
	case checkout.ErrUnknownCart:
		return "There is no such cart."
	case checkout.ErrEmptyCart:
		return "The cart is empty."
	case payment.ErrInvalidSignature:
		return "The webhook signature does not verify."
	case payment.ErrStaleWebhook:
		return "The webhook was signed too long ago."
	case payment.ErrMalformedWebhook:
		return "The webhook body is not an event."
	case waitlist.ErrAvailable:
		return "This product can be bought here now: there is no need to wait for it."
	case waitlist.ErrInvalidToken:
		return "This link is not valid (any more): it may have been changed, or replaced by a newer email. Sign up again from the product page."
	case catalog.ErrNotFound:
		return "There is no such product."
	case market.ErrNotFound:
		return "There is no such market."
	case flashsale.ErrNotFound:
		return "There is no such flash sale."
	case flashsale.ErrSoldOut:
		return "Every unit of this sale is claimed. Units that are not paid for in time come back, so look again in a few minutes."
	case flashsale.ErrNotStarted:
		return "The sale has not started yet."
	case flashsale.ErrEnded:
		return "The sale has ended."
	case flashsale.ErrPaused:
		return "The sale is paused for a moment; try again shortly."
	case flashsale.ErrNotRegistered:
		return "This sale is for customers who registered before registration closed."
	case flashsale.ErrLimitReached:
		return "You already hold as many units of this sale as one customer may."
	case flashsale.ErrRegistrationClosed:
		return "Registration for this sale is closed."
	case flashsale.ErrClaimExpired:
		return "Your claim on the flash-sale units ran out before checkout; the units went back to the sale."
	case flashsale.ErrState:
		return "The sale cannot be changed this way in its current state."
	case flashsale.ErrBusy:
		return "Lots of people are claiming right now; you are in the queue, try again in a moment."
	}
	return err.Error()
}

// waitText says how long to wait, in words.
func waitText(d time.Duration) string {
	switch secs := int(d.Round(time.Second) / time.Second); {
	case secs <= 1:
		return "a second"
	case secs < 120:
		return fmt.Sprintf("%d seconds", secs)
	default:
		return fmt.Sprintf("%d minutes", (secs+59)/60)
	}
}

// retryAfter sets Retry-After on an answer to a rate-limited request, and
// on a flash-sale claim shed under overload also Retry-After-Ms: the
// standard header only says whole seconds, and a crowd retrying on second
// boundaries would arrive in waves.
func retryAfter(w http.ResponseWriter, err error) {
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(limited.RetryAfter)))
	}
	if db.IsUnavailable(err) {
		w.Header().Set("Retry-After", strconv.Itoa(unavailableRetry))
	}
	var busy *flashsale.BusyError
	if errors.As(err, &busy) {
		w.Header().Set("Retry-After", strconv.Itoa(retrySeconds(busy.RetryAfter)))
		w.Header().Set("Retry-After-Ms", strconv.FormatInt(busyMillis(busy), 10))
	}
}

// retrySeconds is d in whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// busyMillis is when a shed claim may retry, in milliseconds, at least 1.
func busyMillis(e *flashsale.BusyError) int64 {
	return max(1, int64((e.RetryAfter+time.Millisecond-1)/time.Millisecond))
}
