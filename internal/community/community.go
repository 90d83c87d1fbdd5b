// Package community holds what members say about products: numbered
// comments with replies, reviews with stars and "helpful" votes, and the
// back office's moderation of both (a queue, hide and restore, bans, a
// word filter, posting limits).
//
// Comments and reviews belong to a product, whatever the market, since
// members talk about the product itself. Their authors are customers; a
// member's "posts" are their comments and reviews that show on the
// storefront (neither hidden by staff nor deleted by their author), kept
// as a counter that changes in the same transaction as the post, so the
// number beside a name is never out of step with what it counts.
//
// Text is plain text. It is cleaned when posted (line breaks normalised,
// control and bidirectional-override characters removed, invalid UTF-8
// refused) and rendered only through RenderBody, which escapes everything
// and adds nothing but line breaks and links: no HTML from a member is
// ever rendered.
//
// Changes by staff (hide, restore, ban, the word filter) are written to
// the audit log in their own transaction, with the actor from the context.
package community

import (
	"errors"
	"html/template"
	"sync/atomic"
	"time"

	"mistore/internal/db"
	"mistore/internal/ratelimit"
)

// Limits on what a member may post.
const (
	// MaxBodyLen is the most characters (runes) a comment or review body
	// may have: room for a long, thought-out post, not for a pasted file.
	MaxBodyLen = 5000
	// MaxTitleLen is the most characters a review title may have.
	MaxTitleLen = 120
	// MaxReasonLen is the most characters of a report's or a moderator's
	// reason.
	MaxReasonLen = 500
	// MaxWordLen is the most characters of one word-filter entry.
	MaxWordLen = 100
	// EditWindow is how long after posting its author may edit a comment.
	EditWindow = 15 * time.Minute
	// PageSize is how many comments or reviews a page lists.
	PageSize = 20
)

// Domain outcomes. The web layer maps each to one HTTP status and API
// code (see the package's report for the suggested table). Input the
// service refuses comes as an *input.FieldError (422) naming the field;
// a posting limit hit comes as a *ratelimit.LimitedError (429).
var (
	// ErrNotFound: no such product, comment or review (or a comment of
	// another product).
	ErrNotFound = errors.New("community: not found")
	// ErrNotAuthor: editing or deleting another member's comment.
	ErrNotAuthor = errors.New("community: only its author may change this comment")
	// ErrEditWindow: editing a comment more than EditWindow after it was
	// posted.
	ErrEditWindow = errors.New("community: a comment can only be edited within 15 minutes of posting")
	// ErrDeleted: editing a comment its author already deleted. (Replies
	// to deleted comments are allowed: they quote "deleted".)
	ErrDeleted = errors.New("community: the comment was deleted")
	// ErrDuplicateReview: a second review of the same product by the same
	// customer.
	ErrDuplicateReview = errors.New("community: you have already reviewed this product")
	// ErrOwnReview: a "helpful" vote on one's own review.
	ErrOwnReview = errors.New("community: you cannot vote on your own review")
	// ErrBanned: posting, editing, reporting or voting while banned from
	// the community.
	ErrBanned = errors.New("community: you are not allowed to post")
	// ErrDisabled: the customer's account is disabled (or gone).
	ErrDisabled = errors.New("community: this account is disabled")
	// ErrInvalidRating is what the rating's *input.FieldError unwraps to:
	// a rating outside 1..5.
	ErrInvalidRating = errors.New("community: the rating must be a whole number of stars from 1 to 5")
	// ErrInvalidText is what a body's, title's or reason's
	// *input.FieldError unwraps to: empty, too long or not UTF-8.
	ErrInvalidText = errors.New("community: invalid text")
	// ErrFiltered is what a *input.FieldError unwraps to when the text
	// contains a word on the shop's filter list. The post is refused, not
	// held, and the message names no word.
	ErrFiltered = errors.New("community: the text contains a word this shop does not allow")
)

// Options configures a Service. The zero value is usable.
type Options struct {
	// Now is the clock (nil means time.Now), injectable so that tests can
	// step past the edit window.
	Now func() time.Time
	// Limiter enforces the posting limits; nil means a limiter on the
	// service's database with the same clock.
	Limiter *ratelimit.Limiter
	// NoLimits turns the posting limits off, for the demo's seed data and
	// for tests of other things.
	NoLimits bool
}

// Service is the community's domain service. It is safe for concurrent
// use.
type Service struct {
	db       *db.DB
	now      func() time.Time
	limiter  *ratelimit.Limiter
	noLimits bool

	// gen counts this process's writes (see write); reads holds recent
	// thread states and ratings under it (readcache.go).
	gen   atomic.Uint64
	reads readCache
}

// New returns the community service on d.
func New(d *db.DB, opts Options) *Service {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lim := opts.Limiter
	if lim == nil {
		lim = ratelimit.New(d, now)
	}
	return &Service{db: d, now: now, limiter: lim, noLimits: opts.NoLimits}
}

// Author is who wrote a comment or review, as the storefront shows them.
type Author struct {
	ID int64
	// Name is the customer's name, cleaned of control and bidi-override
	// characters; "Former member" when the account was erased.
	Name string
	// Posts counts the author's comments and reviews that show on the
	// storefront.
	Posts int
	// MemberSince is when the customer's account was created.
	MemberSince time.Time
}

// Quote is the comment a reply answers, as shown above the reply.
type Quote struct {
	Number     int
	AuthorName string
	// Body is the answered comment's text, cut to a few hundred
	// characters; empty when Gone.
	Body string
	// Gone is true when the answered comment was deleted or hidden: the
	// page shows "This comment was deleted" (or removed) instead.
	Gone bool
}

// Comment is one comment on a product.
type Comment struct {
	ID        int64
	ProductID int64
	// Number is the comment's place in its product's thread: 1, 2, 3...
	// in posting order, never reused.
	Number int
	Author Author
	// Body is the plain text as posted (cleaned); render it with
	// RenderBody. It is empty on the storefront when Deleted or Hidden.
	Body string
	// ReplyTo is the number of the comment this one answers, 0 for none;
	// Quote is that comment.
	ReplyTo int
	Quote   *Quote
	// EditedAt is zero unless the author edited the comment.
	CreatedAt time.Time
	EditedAt  time.Time
	// Deleted: its author deleted it; it keeps its number and shows as
	// "This comment was deleted".
	Deleted bool
	// Hidden: staff hid it, for HiddenReason; the storefront does not
	// list it at all.
	Hidden       bool
	HiddenReason string
	// OpenReports counts reports staff have not dealt with yet.
	OpenReports int
}

// Editable reports whether customer may still edit c at now: their own,
// not deleted or hidden, within EditWindow of posting.
func (c *Comment) Editable(customer int64, now time.Time) bool {
	return c.Author.ID == customer && !c.Deleted && !c.Hidden && now.Sub(c.CreatedAt) < EditWindow
}

// HTML is c's body rendered for a page with RenderBody.
func (c *Comment) HTML() template.HTML { return RenderBody(c.Body) }

// NewComment is a comment to post.
type NewComment struct {
	// ProductID names the product; when it is 0, ProductSlug does.
	ProductID   int64
	ProductSlug string
	// CustomerID is the signed-in author.
	CustomerID int64
	// IP is the address the request came from, for the per-IP limit; ""
	// skips that limit (the command line, tests).
	IP   string
	Body string
	// ReplyTo is the number of the comment answered, 0 for none. It must
	// be a comment of the same product (a field error otherwise).
	ReplyTo int
}

// CommentPage is one page of a product's thread.
type CommentPage struct {
	Comments []Comment
	// Page is the page shown, from 1; Pages how many there are (at least
	// 1); Total how many comments the storefront lists (deleted ones
	// included, hidden ones not).
	Page, Pages, Total int
}

// ThreadState is what a product's community box looks like at a moment,
// for the product page's cache key: any change the storefront shows
// changes Version.
type ThreadState struct {
	// Comments is the number of the product's latest comment.
	Comments int
	// Version grows with every post, edit, delete, hide, restore, review
	// and vote on the product.
	Version int64
	// Changed is when Version last grew; zero when nothing was ever
	// posted.
	Changed time.Time
}
