package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/community"
	"mistore/internal/input"
)

// Comments and reviews in the public API: a product's thread and its
// reviews, posting, editing and deleting one's own comment, reporting a
// comment and voting a review helpful. Comments and reviews belong to the
// product, not the market: a product that is not sold in a market still
// shows (and takes) them there. The product page's side is
// community_page.go; the back office's admin_moderation.go.
//
// A comment is addressed by its id (the "id" of its JSON), not by its
// number in the thread: numbers are what people quote in text ("see
// #12"), ids what programs keep.

// communityRoutes registers the community API, the storefront's forms
// and, with a back office, the moderation pages and admin API.
func (s *Server) communityRoutes(mux *recordingMux, store *http.ServeMux, api *apiRouter) {
	bearer := paramDoc{name: "Authorization", in: "header", typ: "string",
		desc: "Bearer TOKEN from POST /api/v1/sessions; a browser may send the session cookie instead.", required: true}
	commentID := paramDoc{name: "id", in: "path", typ: "integer", desc: "Comment id (the id of its JSON, not its number).", required: true}
	reviewID := paramDoc{name: "id", in: "path", typ: "integer", desc: "Review id.", required: true}
	const base = "/api/v1/markets/{market}/products/{slug}"
	api.handle("GET "+base+"/comments", s.apiComments, opDoc{
		summary: "A page of the product's comments, numbered in posting order, with each author's posts and member-since date. " +
			"Comments belong to the product in every market, also where it is not sold. A deleted comment keeps its number " +
			"with deleted: true and an empty body; comments hidden by moderators are left out.",
		tag: "community", response: "CommentList", params: []paramDoc{marketParam, slugParam,
			{name: "page", in: "query", typ: "integer", desc: "Page from 1 (default 1; past the last means the last); 20 comments a page."}},
	})
	api.handle("POST "+base+"/comments", s.apiPostComment, opDoc{
		summary: "Post a comment (plain text; reply_to: the number of the comment answered). 401 without a session, " +
			"403 banned, 422 invalid_field (body, reply_to), 429 rate_limited with Retry-After when posting too fast.",
		tag: "community", response: "Comment", status: http.StatusCreated, request: "CommentRequest",
		params: []paramDoc{marketParam, slugParam, bearer},
	})
	api.handle("PATCH "+base+"/comments/{id}", s.apiEditComment, opDoc{
		summary: "Edit one's own comment within 15 minutes of posting (409 edit_window_closed after; 403 not_author for " +
			"another member's comment).",
		tag: "community", response: "Comment", request: "CommentEditRequest", params: []paramDoc{marketParam, slugParam, commentID, bearer},
	})
	api.handle("DELETE "+base+"/comments/{id}", s.apiDeleteComment, opDoc{
		summary: "Delete one's own comment: it keeps its number and shows as deleted (403 not_author for another member's).",
		tag:     "community", status: http.StatusNoContent, params: []paramDoc{marketParam, slugParam, commentID, bearer},
	})
	api.handle("POST "+base+"/comments/{id}/reports", s.apiReportComment, opDoc{
		summary: "Report a comment to the moderators, with an optional reason. A member reports a comment once; " +
			"reporting it again changes nothing and answers the same.",
		tag: "community", response: "CommentReport", status: http.StatusAccepted, request: "CommentReportRequest",
		params: []paramDoc{marketParam, slugParam, commentID, bearer},
	})
	api.handle("GET "+base+"/reviews", s.apiReviews, opDoc{
		summary: "A page of the product's reviews with its rating summary: average (null without reviews), count and the " +
			"number of reviews per star. Signed in, each review says whether the caller voted it helpful.",
		tag: "community", response: "ReviewList", params: []paramDoc{marketParam, slugParam,
			{name: "sort", in: "query", typ: "string", desc: "newest (default) or helpful."},
			{name: "page", in: "query", typ: "integer", desc: "Page from 1 (default 1); 20 reviews a page."}},
	})
	api.handle("POST "+base+"/reviews", s.apiPostReview, opDoc{
		summary: "Review the product: rating a whole number of stars from 1 to 5 (422 invalid_field on rating otherwise, " +
			"3.5 included), title and body. One review per customer and product: a second is 409 already_reviewed. " +
			"verified is true when the customer has a paid order with the product.",
		tag: "community", response: "Review", status: http.StatusCreated, request: "ReviewRequest",
		params: []paramDoc{marketParam, slugParam, bearer},
	})
	api.handle("POST "+base+"/reviews/{id}/votes", s.apiVoteReview, opDoc{
		summary: "Vote a review helpful, once per customer (again changes nothing). A vote on one's own review is " +
			"409 own_review.",
		tag: "community", response: "ReviewVote", params: []paramDoc{marketParam, slugParam, reviewID, bearer},
	})
	s.communityPageRoutes(store)
	if s.staff != nil {
		s.adminModerationRoutes(&adminRouter{s: s, mux: mux, doc: api})
	}
}

// communityErrors maps the community's outcomes. Refused input comes as
// an *input.FieldError (422 invalid_field) before the table is looked
// at; the sentinels those wrap are listed too, for an error that arrives
// without its field.
var communityErrors = []errorMapping{
	{community.ErrNotFound, http.StatusNotFound, codeNotFound},
	{community.ErrNotAuthor, http.StatusForbidden, codeNotAuthor},
	{community.ErrEditWindow, http.StatusConflict, codeEditWindowClosed},
	{community.ErrDeleted, http.StatusConflict, codeCommentDeleted},
	{community.ErrDuplicateReview, http.StatusConflict, codeAlreadyReviewed},
	{community.ErrOwnReview, http.StatusConflict, codeOwnReview},
	{community.ErrBanned, http.StatusForbidden, codeBanned},
	{community.ErrDisabled, http.StatusForbidden, codeAccountDisabled},
	{community.ErrInvalidRating, http.StatusUnprocessableEntity, "invalid_field"},
	{community.ErrInvalidText, http.StatusUnprocessableEntity, "invalid_field"},
	{community.ErrFiltered, http.StatusUnprocessableEntity, "invalid_field"},
}

// communityMessage is the sentence shown for a community outcome, or ""
// for an error that is not one.
func communityMessage(sentinel error) string {
	switch sentinel {
	case community.ErrNotFound:
		return "There is no such comment or review on this product."
	case community.ErrNotAuthor:
		return "Only its author can change this comment."
	case community.ErrEditWindow:
		return "A comment can only be edited within 15 minutes of posting; you can still delete it."
	case community.ErrDeleted:
		return "This comment was deleted."
	case community.ErrDuplicateReview:
		return "You have already reviewed this product: one review per customer."
	case community.ErrOwnReview:
		return "You cannot vote on your own review."
	case community.ErrBanned:
		return "Your account may not post, vote or report in the community: a moderator suspended it. " +
			"Contact customer service if you think this is a mistake."
	case community.ErrDisabled:
		return "This account is disabled."
	case community.ErrInvalidRating:
		return "The rating must be a whole number of stars from 1 to 5."
	case community.ErrFiltered:
		return "The text contains a word this shop does not allow."
	}
	return ""
}

// postingLimitMessage says plainly that a member posts too fast, for a
// limit of the community's (its rules' names start with "community").
func postingLimitMessage(limited string, wait time.Duration) string {
	if !strings.HasPrefix(limited, "community") {
		return ""
	}
	return "You are posting too fast. Wait " + waitText(wait) + ", then try again."
}

// authorJSON is who wrote a comment or review.
type authorJSON struct {
	Name        string    `json:"name"`
	Posts       int       `json:"posts"`
	MemberSince time.Time `json:"member_since"`
}

func authorOf(a community.Author) authorJSON {
	return authorJSON{Name: a.Name, Posts: a.Posts, MemberSince: a.MemberSince.UTC()}
}

// quoteJSON is the comment a reply answers.
type quoteJSON struct {
	Number int    `json:"number"`
	Author string `json:"author"`
	Body   string `json:"body"`
	// Gone: the answered comment was deleted or hidden; body is empty.
	Gone bool `json:"gone,omitempty"`
}

// commentJSON is a comment as the API shows it. Body is the plain text:
// a client must escape it, as the store's pages do.
type commentJSON struct {
	ID        int64      `json:"id"`
	Number    int        `json:"number"`
	Author    authorJSON `json:"author"`
	Body      string     `json:"body"`
	ReplyTo   int        `json:"reply_to,omitempty"`
	Quote     *quoteJSON `json:"quote,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	EditedAt  *time.Time `json:"edited_at,omitempty"`
	Deleted   bool       `json:"deleted,omitempty"`
}

func commentOf(c *community.Comment) commentJSON {
	j := commentJSON{ID: c.ID, Number: c.Number, Author: authorOf(c.Author), Body: c.Body, ReplyTo: c.ReplyTo,
		CreatedAt: c.CreatedAt.UTC(), Deleted: c.Deleted}
	if c.Deleted || c.Hidden {
		j.Body = ""
	}
	if q := c.Quote; q != nil {
		j.Quote = &quoteJSON{Number: q.Number, Author: q.AuthorName, Body: q.Body, Gone: q.Gone}
		if q.Gone {
			j.Quote.Body = ""
		}
	}
	if !c.EditedAt.IsZero() {
		t := c.EditedAt.UTC()
		j.EditedAt = &t
	}
	return j
}

// reviewJSON is a review as the API shows it.
type reviewJSON struct {
	ID        int64      `json:"id"`
	Rating    int        `json:"rating"`
	Title     string     `json:"title"`
	Body      string     `json:"body"`
	Author    authorJSON `json:"author"`
	Verified  bool       `json:"verified"`
	Helpful   int        `json:"helpful"`
	CreatedAt time.Time  `json:"created_at"`
	// Voted is set when the caller is signed in: whether they voted it
	// helpful.
	Voted *bool `json:"voted,omitempty"`
}

func reviewOf(rv *community.Review, signedIn bool) reviewJSON {
	j := reviewJSON{ID: rv.ID, Rating: rv.Rating, Title: rv.Title, Body: rv.Body, Author: authorOf(rv.Author),
		Verified: rv.Verified, Helpful: rv.Helpful, CreatedAt: rv.CreatedAt.UTC()}
	if signedIn {
		voted := rv.Voted
		j.Voted = &voted
	}
	return j
}

// summaryJSON is a product's rating at a glance.
type summaryJSON struct {
	// Average is null without reviews.
	Average *float64 `json:"average"`
	Count   int      `json:"count"`
	// Distribution counts the reviews per number of stars, "1" to "5".
	Distribution map[string]int `json:"distribution"`
}

func summaryOf(sum community.Summary) summaryJSON {
	j := summaryJSON{Count: sum.Count, Distribution: map[string]int{}}
	if sum.Count > 0 {
		avg := math.Round(sum.Average*10) / 10
		j.Average = &avg
	}
	for i, n := range sum.Stars {
		j.Distribution[strconv.Itoa(i+1)] = n
	}
	return j
}

// communityProduct returns the product of the path, in the path's market:
// 404 for an unknown market or product; a product not sold there is
// found.
func (s *Server) communityProduct(r *http.Request) (*catalog.View, error) {
	return s.catalog.Product(r.Context(), r.PathValue("market"), r.PathValue("slug"))
}

// communityID reads the path's id of a comment or review; one that is not
// a number names none.
func communityID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, community.ErrNotFound
	}
	return id, nil
}

// productComment returns comment id if it is one of product's.
func (s *Server) productComment(r *http.Request, product int64) (*community.Comment, error) {
	id, err := communityID(r)
	if err != nil {
		return nil, err
	}
	c, err := s.community.Comment(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if c.ProductID != product {
		return nil, community.ErrNotFound
	}
	return c, nil
}

// productReview returns review id if it is one of product's.
func (s *Server) productReview(r *http.Request, product int64) (*community.Review, error) {
	id, err := communityID(r)
	if err != nil {
		return nil, err
	}
	rv, err := s.community.Review(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if rv.ProductID != product || rv.Hidden {
		return nil, community.ErrNotFound
	}
	return rv, nil
}

func (s *Server) apiComments(w http.ResponseWriter, r *http.Request) {
	v, err := s.communityProduct(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page, err := intParam(r, "page", 1, 1, maxCommunityPage)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	cp, err := s.community.Comments(r.Context(), v.ID, page)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]commentJSON, 0, len(cp.Comments))
	for i := range cp.Comments {
		out = append(out, commentOf(&cp.Comments[i]))
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"comments": out, "page": cp.Page, "pages": cp.Pages, "total": cp.Total})
}

// maxCommunityPage bounds a page parameter: past the last page means the
// last anyway.
const maxCommunityPage = 100000

// commentRequest is the body of POST .../comments.
type commentRequest struct {
	Body    string `json:"body"`
	ReplyTo *int   `json:"reply_to"`
}

func (s *Server) apiPostComment(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.communityProduct(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req commentRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	nc := community.NewComment{ProductID: v.ID, CustomerID: who.customer.ID, IP: clientIP(r), Body: req.Body}
	if req.ReplyTo != nil {
		if *req.ReplyTo <= 0 {
			s.apiFail(w, r, input.Invalid("reply_to", "reply_to must be the number of a comment on this product."))
			return
		}
		nc.ReplyTo = *req.ReplyTo
	}
	c, err := s.community.PostComment(r.Context(), nc)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, commentOf(c))
}

// commentTarget opens what a change to one comment needs: the signed-in
// caller, and comment {id} of the product the URL names (a comment of
// another product is not found).
func (s *Server) commentTarget(r *http.Request) (caller, *community.Comment, error) {
	who, err := s.signedIn(r)
	if err != nil {
		return caller{}, nil, err
	}
	v, err := s.communityProduct(r)
	if err != nil {
		return caller{}, nil, err
	}
	c, err := s.productComment(r, v.ID)
	return who, c, err
}

// commentEditRequest is the body of PATCH .../comments/{id}.
type commentEditRequest struct {
	Body string `json:"body"`
}

func (s *Server) apiEditComment(w http.ResponseWriter, r *http.Request) {
	who, c, err := s.commentTarget(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req commentEditRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err = s.community.EditComment(r.Context(), c.ID, who.customer.ID, req.Body)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, commentOf(c))
}

func (s *Server) apiDeleteComment(w http.ResponseWriter, r *http.Request) {
	who, c, err := s.commentTarget(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.community.DeleteComment(r.Context(), c.ID, who.customer.ID); err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// commentReportRequest is the body of POST .../comments/{id}/reports; the
// body may be left out.
type commentReportRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) apiReportComment(w http.ResponseWriter, r *http.Request) {
	who, c, err := s.commentTarget(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req commentReportRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.community.ReportComment(r.Context(), c.ID, who.customer.ID, req.Reason, clientIP(r)); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusAccepted, map[string]any{"comment_id": c.ID, "reported": true})
}

// reviewSortParam reads ?sort=: newest (the default) or helpful.
func reviewSortParam(r *http.Request) (community.Sort, error) {
	switch v := r.URL.Query().Get("sort"); v {
	case "", string(community.SortNewest):
		return community.SortNewest, nil
	case string(community.SortHelpful):
		return community.SortHelpful, nil
	}
	return "", badParam("sort", "sort must be newest or helpful")
}

func (s *Server) apiReviews(w http.ResponseWriter, r *http.Request) {
	v, err := s.communityProduct(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	sort, err := reviewSortParam(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	page, err := intParam(r, "page", 1, 1, maxCommunityPage)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	// Anyone may read; a signed-in caller also learns their own votes.
	q := community.ReviewQuery{Product: v.ID, Sort: sort, Page: page}
	who, err := s.signedIn(r)
	signed := err == nil
	if err != nil && !errors.Is(err, errSignInRequired) {
		s.apiFail(w, r, err)
		return
	}
	if signed {
		q.Viewer = who.customer.ID
	}
	rp, err := s.community.Reviews(r.Context(), q)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]reviewJSON, 0, len(rp.Reviews))
	for i := range rp.Reviews {
		out = append(out, reviewOf(&rp.Reviews[i], signed))
	}
	sum := summaryOf(rp.Summary)
	s.writeJSON(w, r, http.StatusOK, map[string]any{"reviews": out, "average": sum.Average, "count": sum.Count,
		"distribution": sum.Distribution, "sort": sort, "page": rp.Page, "pages": rp.Pages, "total": rp.Total})
}

// reviewRequest is the body of POST .../reviews. The rating is read raw:
// 3.5 and "3" are refused as a 422 on the rating, like 0 and 6, rather
// than as a malformed body.
type reviewRequest struct {
	Rating json.RawMessage `json:"rating"`
	Title  string          `json:"title"`
	Body   string          `json:"body"`
}

// invalidRating is the refusal of a rating that is not 1 to 5 stars.
func invalidRating() error {
	return &input.FieldError{Field: "rating", Msg: "The rating must be a whole number of stars from 1 to 5.", Err: community.ErrInvalidRating}
}

// ratingOf reads a review's rating: a JSON number that is a whole number
// from 1 to 5.
func ratingOf(raw json.RawMessage) (int, error) {
	bad := invalidRating()
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == '"' || raw[0] == 'n' || raw[0] == 't' || raw[0] == 'f' || raw[0] == '[' || raw[0] == '{' {
		return 0, bad
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f != math.Trunc(f) || f < 1 || f > 5 {
		return 0, bad
	}
	return int(f), nil
}

func (s *Server) apiPostReview(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.communityProduct(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req reviewRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	rating, err := ratingOf(req.Rating)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rv, err := s.community.PostReview(r.Context(), community.NewReview{ProductID: v.ID, CustomerID: who.customer.ID,
		IP: clientIP(r), Rating: rating, Title: req.Title, Body: req.Body})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusCreated, reviewOf(rv, false))
}

func (s *Server) apiVoteReview(w http.ResponseWriter, r *http.Request) {
	who, err := s.signedIn(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	v, err := s.communityProduct(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := decodeOptionalJSON(r, &struct{}{}); err != nil {
		s.apiFail(w, r, err)
		return
	}
	rv, err := s.productReview(r, v.ID)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	n, err := s.community.Vote(r.Context(), rv.ID, who.customer.ID, clientIP(r))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"review_id": rv.ID, "helpful": n, "voted": true})
}
