package web

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/community"
	"mistore/internal/locale"
)

// The product page's comments and reviews. Everything works without
// JavaScript: each action is a form that posts and comes back to the
// page (303) with a one-time message, replying is a link that opens the
// post form with the comment answered, and editing is a link that opens
// the comment's own form.
//
// The product page is cached for everyone (page_store.go): a signed-in
// shopper's page, which shows their own forms and buttons, and a page
// carrying a one-time message are rendered for them alone, Private; an
// anonymous page is kept under a key holding the thread's version, so a
// new comment, review or vote shows at once.

const (
	// communityFlashCookie carries the outcome of the last community form
	// to the product page it redirects to, read once.
	communityFlashCookie = "mistore_community_flash"
	// maxCommunityForm bounds a form post: a body of MaxBodyLen runes in
	// UTF-8, percent-encoded, with room to spare.
	maxCommunityForm = 96 << 10
	// authorCountsAge bounds how stale an anonymous page's authors'
	// post counts may be: they also change with posts on other products,
	// which this product's thread version does not see.
	authorCountsAge = 5 * time.Minute
)

// communityBox is what the product page shows of its comments and reviews.
type communityBox struct {
	// Base is the product page's path in the market, for links and forms.
	Base     string
	Comments *community.CommentPage
	Reviews  *community.ReviewPage
	Summary  community.Summary
	// CommentPages and ReviewPages link to the other pages.
	CommentPages []pageLink
	ReviewPages  []pageLink
	// Sort is the reviews' order, and SortLinks both orders' links.
	Sort      community.Sort
	SortLinks []sortLink
	// Bars is the distribution, five stars first.
	Bars []starBar
	// Rating is Summary as stars and words.
	Rating rating
	// Viewer is the signed-in shopper, nil for anyone else; ViewerName
	// their name.
	Viewer     *caller
	ViewerName string
	// Banned: the viewer may not post; the forms give way to a notice.
	Banned bool
	// OwnReview is the viewer's review of the product, if any.
	OwnReview *community.Review
	// ReplyTo is the comment the post form answers (from ?reply=), 0 for
	// none; Editing the id of the viewer's comment being edited.
	ReplyTo int
	Editing int64
	// Message is the outcome of the last form post, Error whether it was
	// a refusal. Draft and the review fields keep what a refused form
	// held, so nothing typed is lost.
	Message     string
	Error       bool
	Draft       string
	DraftRating int
	DraftTitle  string
	DraftReview string
	Now         time.Time
}

// starBar is one line of the reviews' distribution.
type starBar struct {
	Stars, Count, Percent int
}

// sortLink is one of the reviews' orders.
type sortLink struct {
	Sort    community.Sort
	Label   string
	URL     string
	Current bool
}

// CanEdit reports whether the viewer may still edit c.
func (b *communityBox) CanEdit(c community.Comment) bool {
	return b.Viewer != nil && c.Editable(b.Viewer.customer.ID, b.Now)
}

// RatingChoices are the review form's ratings, best first.
func (b *communityBox) RatingChoices() []int { return []int{5, 4, 3, 2, 1} }

// StarsOf is n stars out of five as star characters, "★★★☆☆".
func (b *communityBox) StarsOf(n int) string {
	return rating{community.Summary{Count: 1, Average: float64(n)}}.Stars()
}

// Render renders a member's plain text, the only way their text reaches
// a page (community.RenderBody escapes everything).
func (b *communityBox) Render(text string) template.HTML { return community.RenderBody(text) }

// Mine reports whether the viewer wrote c.
func (b *communityBox) Mine(authorID int64) bool {
	return b.Viewer != nil && authorID == b.Viewer.customer.ID
}

// communityForm is a refused form's content and outcome, carried to the
// page rendered in answer to it.
type communityForm struct {
	status  int
	message string
	draft   string
	rating  int
	title   string
	review  string
	editing int64
	replyTo int
}

type communityFormKey struct{}

// communityView is what the community box of a request depends on,
// read before the page so that an anonymous page can be served from the
// cache without loading the thread.
type communityView struct {
	viewer   *caller
	message  string
	isErr    bool
	form     *communityForm
	cpage    int
	rpage    int
	sort     community.Sort
	state    community.ThreadState
	private  bool
	keyPart  string
	loadedAt time.Time
}

type communityViewKey struct{}

// communityRequest reads who is looking, the one-time message and the
// page parameters, and the thread's state when the page may be cached.
// It returns r carrying what it read, for productCommunity.
func (s *Server) communityRequest(w http.ResponseWriter, r *http.Request, v *catalog.View) (*http.Request, *communityView, error) {
	cv := &communityView{loadedAt: s.catalog.Now()}
	who, err := s.signedIn(r)
	switch {
	case err == nil:
		cv.viewer = &who
		cv.private = true
	case !errors.Is(err, errSignInRequired):
		return r, nil, err
	}
	if cv.message, cv.isErr = readCommunityFlash(w, r); cv.message != "" {
		cv.private = true
	}
	if f, ok := r.Context().Value(communityFormKey{}).(*communityForm); ok {
		cv.form = f
		cv.private = true
	}
	q := r.URL.Query()
	cv.cpage = pageValue(q.Get("comments"))
	cv.rpage = pageValue(q.Get("reviews"))
	cv.sort = community.ParseSort(q.Get("sort"))
	if !cv.private {
		if cv.state, err = s.community.Thread(r.Context(), v.ID); err != nil {
			return r, nil, err
		}
		bucket := cv.loadedAt.Truncate(authorCountsAge).Unix()
		cv.keyPart = "|c" + strconv.FormatInt(cv.state.Version, 10) + "." + strconv.Itoa(cv.state.Comments) +
			"|" + strconv.Itoa(cv.cpage) + "|" + strconv.Itoa(cv.rpage) + "|" + string(cv.sort) + "|" + strconv.FormatInt(bucket, 10)
	}
	return r.WithContext(context.WithValue(r.Context(), communityViewKey{}, cv)), cv, nil
}

// pageValue reads a page number of the query: "" and anything that is not
// a positive number mean 1, "last" (and past the last) the last page.
func pageValue(v string) int {
	if v == "last" {
		return maxCommunityPage
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return min(n, maxCommunityPage)
}

// productCommunity returns the comments and reviews of product v for page p.
func (s *Server) productCommunity(r *http.Request, p *page, v *catalog.View) (*communityBox, error) {
	cv, _ := r.Context().Value(communityViewKey{}).(*communityView)
	if cv == nil {
		var err error
		if r, cv, err = s.communityRequest(nil, r, v); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	b := &communityBox{Base: "/" + p.Market.Code + "/products/" + v.Slug, Sort: cv.sort, Viewer: cv.viewer,
		Message: cv.message, Error: cv.isErr, Now: cv.loadedAt}
	if cv.private {
		p.Private = true
		p.NoIndex = true
	}
	var err error
	if b.Comments, err = s.community.Comments(ctx, v.ID, cv.cpage); err != nil {
		return nil, err
	}
	q := community.ReviewQuery{Product: v.ID, Sort: cv.sort, Page: cv.rpage}
	if cv.viewer != nil {
		q.Viewer = cv.viewer.customer.ID
	}
	if b.Reviews, err = s.community.Reviews(ctx, q); err != nil {
		return nil, err
	}
	b.Summary = b.Reviews.Summary
	b.Rating = rating{b.Summary}
	for star := 5; star >= 1; star-- {
		b.Bars = append(b.Bars, starBar{Stars: star, Count: b.Summary.Stars[star-1], Percent: b.Summary.Percent(star)})
	}
	link := func(cpage, rpage int, sort community.Sort, anchor string) string {
		vals := url.Values{}
		if cpage > 1 {
			vals.Set("comments", strconv.Itoa(cpage))
		}
		if rpage > 1 {
			vals.Set("reviews", strconv.Itoa(rpage))
		}
		if sort == community.SortHelpful {
			vals.Set("sort", string(sort))
		}
		u := b.Base
		if len(vals) > 0 {
			u += "?" + vals.Encode()
		}
		return u + anchor
	}
	for n := 1; n <= b.Comments.Pages && b.Comments.Pages > 1; n++ {
		b.CommentPages = append(b.CommentPages, pageLink{Number: n, URL: link(n, b.Reviews.Page, cv.sort, "#comments"), Current: n == b.Comments.Page})
	}
	for n := 1; n <= b.Reviews.Pages && b.Reviews.Pages > 1; n++ {
		b.ReviewPages = append(b.ReviewPages, pageLink{Number: n, URL: link(b.Comments.Page, n, cv.sort, "#reviews"), Current: n == b.Reviews.Page})
	}
	for _, so := range []struct {
		sort  community.Sort
		label string
	}{{community.SortNewest, p.Lang.T("Newest")}, {community.SortHelpful, p.Lang.T("Most helpful")}} {
		b.SortLinks = append(b.SortLinks, sortLink{Sort: so.sort, Label: so.label, URL: link(b.Comments.Page, 1, so.sort, "#reviews"), Current: so.sort == cv.sort})
	}
	if cv.viewer != nil {
		b.ViewerName = cv.viewer.customer.Name
		id := cv.viewer.customer.ID
		if m, err := s.community.Member(ctx, id); err == nil {
			b.Banned = m.Banned
		} else if !errors.Is(err, community.ErrNotFound) {
			return nil, err
		}
		if own, err := s.community.CustomerReview(ctx, v.ID, id); err == nil {
			b.OwnReview = own
		} else if !errors.Is(err, community.ErrNotFound) {
			return nil, err
		}
		query := r.URL.Query()
		if n, err := strconv.Atoi(query.Get("reply")); err == nil && n > 0 {
			b.ReplyTo = n
		}
		if n, err := strconv.ParseInt(query.Get("edit"), 10, 64); err == nil && n > 0 {
			b.Editing = n
		}
	}
	if f := cv.form; f != nil {
		b.Message, b.Error = f.message, true
		b.Draft, b.DraftRating, b.DraftTitle, b.DraftReview = f.draft, f.rating, f.title, f.review
		if f.editing != 0 {
			b.Editing = f.editing
		}
		if f.replyTo != 0 {
			b.ReplyTo = f.replyTo
		}
	}
	return b, nil
}

// communityPageRoutes registers the product page's community forms. The
// POST forms are protected against cross-site requests by the store's
// http.CrossOriginProtection, like every form.
func (s *Server) communityPageRoutes(store *http.ServeMux) {
	store.HandleFunc("POST /{market}/products/{slug}/comments", s.pagePostComment)
	store.HandleFunc("POST /{market}/products/{slug}/comments/{id}/edit", s.pageEditComment)
	store.HandleFunc("POST /{market}/products/{slug}/comments/{id}/delete", s.pageDeleteComment)
	store.HandleFunc("POST /{market}/products/{slug}/comments/{id}/report", s.pageReportComment)
	store.HandleFunc("POST /{market}/products/{slug}/reviews", s.pagePostReview)
	store.HandleFunc("POST /{market}/products/{slug}/reviews/{id}/vote", s.pageVoteReview)
}

// communityShopper reads a community form: the product, the signed-in
// shopper and the form's fields. It has answered when ok is false; what
// is the form's action, for "Sign in to ...".
func (s *Server) communityShopper(w http.ResponseWriter, r *http.Request, what locale.Msg) (v *catalog.View, who caller, ok bool) {
	v, err := s.communityProduct(r)
	if err != nil {
		s.pageFail(w, r, err)
		return nil, caller{}, false
	}
	if who, err = s.signedIn(r); err != nil {
		if !errors.Is(err, errSignInRequired) {
			s.pageFail(w, r, err)
			return nil, caller{}, false
		}
		s.communityRedirect(w, r, v, "", locale.M("Sign in to %s: use the Account link at the top of the page.", what), true)
		return nil, caller{}, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCommunityForm)
	if err := r.ParseForm(); err != nil {
		s.communityRedirect(w, r, v, "", locale.M("The form could not be read (a comment may have at most 5,000 characters); please try again."), true)
		return nil, caller{}, false
	}
	return v, who, true
}

// communityRedirect sends the browser back to the product page (303) at
// anchor, leaving msg for it to show once; isErr marks a refusal.
func (s *Server) communityRedirect(w http.ResponseWriter, r *http.Request, v *catalog.View, query string, msg locale.Msg, isErr bool) {
	s.flashRedirect(w, r, v, query, s.requestLang(r).Say(msg), isErr)
}

// communityFailed sends the browser back to the product page (303) at
// anchor with err's refusal to show once.
func (s *Server) communityFailed(w http.ResponseWriter, r *http.Request, v *catalog.View, query string, err error) {
	s.flashRedirect(w, r, v, query, pageErrorText(s.requestLang(r), err), true)
}

// flashRedirect redirects to the product page leaving msg, written in
// the page's language already: the cookie carries the text itself, as
// a message's arguments would not survive it.
func (s *Server) flashRedirect(w http.ResponseWriter, r *http.Request, v *catalog.View, query, msg string, isErr bool) {
	path := "/" + r.PathValue("market") + "/products/" + v.Slug
	if msg != "" {
		kind := "i"
		if isErr {
			kind = "e"
		}
		http.SetCookie(w, &http.Cookie{
			Name: communityFlashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(kind + msg)),
			Path: path, MaxAge: cartFlashAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r),
		})
	}
	localRedirect(w, r, path+query, http.StatusSeeOther)
}

// readCommunityFlash returns and clears the outcome of the last community
// form on the product page. Only the store sets the cookie, so no link
// can make the page say something.
func readCommunityFlash(w http.ResponseWriter, r *http.Request) (msg string, isErr bool) {
	c, err := r.Cookie(communityFlashCookie)
	if err != nil || w == nil {
		return "", false
	}
	http.SetCookie(w, &http.Cookie{Name: communityFlashCookie, Path: r.URL.Path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) < 2 {
		return "", false
	}
	return string(raw[1:]), raw[0] == 'e'
}

// communityRefused answers a refused community form: a server error as
// an error page, anything else as the product page again with the
// message and what was typed, with the refusal's status.
func (s *Server) communityRefused(w http.ResponseWriter, r *http.Request, err error, f *communityForm) {
	status, _ := classify(err)
	if status >= http.StatusInternalServerError {
		s.pageFail(w, r, err)
		return
	}
	retryAfter(w, err)
	f.status, f.message = status, pageErrorText(s.requestLang(r), err)
	r = r.WithContext(context.WithValue(r.Context(), communityFormKey{}, f))
	s.productPage(w, r, status)
}

// formComment returns the form's comment id if it is one of v's.
func (s *Server) formComment(r *http.Request, v *catalog.View) (*community.Comment, error) {
	return s.productComment(r, v.ID)
}

func (s *Server) pagePostComment(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("comment"))
	if !ok {
		return
	}
	body := r.PostForm.Get("body")
	nc := community.NewComment{ProductID: v.ID, CustomerID: who.customer.ID, IP: clientIP(r), Body: body}
	if n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("reply_to"))); err == nil && n > 0 {
		nc.ReplyTo = n
	}
	c, err := s.community.PostComment(r.Context(), nc)
	if err != nil {
		s.communityRefused(w, r, err, &communityForm{draft: body, replyTo: nc.ReplyTo})
		return
	}
	s.communityRedirect(w, r, v, "?comments=last#c-"+strconv.Itoa(c.Number), locale.M("Your comment #%s is posted.", strconv.Itoa(c.Number)), false)
}

func (s *Server) pageEditComment(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("edit your comment"))
	if !ok {
		return
	}
	c, err := s.formComment(r, v)
	if err != nil {
		s.communityFailed(w, r, v, "", err)
		return
	}
	body := r.PostForm.Get("body")
	if _, err := s.community.EditComment(r.Context(), c.ID, who.customer.ID, body); err != nil {
		if errors.Is(err, community.ErrEditWindow) || errors.Is(err, community.ErrNotAuthor) || errors.Is(err, community.ErrDeleted) {
			s.communityFailed(w, r, v, "", err)
			return
		}
		s.communityRefused(w, r, err, &communityForm{draft: body, editing: c.ID})
		return
	}
	s.communityRedirect(w, r, v, "", locale.M("Your comment #%s is changed.", strconv.Itoa(c.Number)), false)
}

func (s *Server) pageDeleteComment(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("delete your comment"))
	if !ok {
		return
	}
	c, err := s.formComment(r, v)
	if err == nil {
		err = s.community.DeleteComment(r.Context(), c.ID, who.customer.ID)
	}
	if err != nil {
		s.communityFailed(w, r, v, "", err)
		return
	}
	s.communityRedirect(w, r, v, "", locale.M("Your comment #%s is deleted.", strconv.Itoa(c.Number)), false)
}

func (s *Server) pageReportComment(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("report a comment"))
	if !ok {
		return
	}
	c, err := s.formComment(r, v)
	if err == nil {
		err = s.community.ReportComment(r.Context(), c.ID, who.customer.ID, r.PostForm.Get("reason"), clientIP(r))
	}
	if err != nil {
		s.communityFailed(w, r, v, "", err)
		return
	}
	s.communityRedirect(w, r, v, "", locale.M("Thank you: comment #%s is reported, and a moderator will look at it.", strconv.Itoa(c.Number)), false)
}

func (s *Server) pagePostReview(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("review this product"))
	if !ok {
		return
	}
	f := r.PostForm
	nr := community.NewReview{ProductID: v.ID, CustomerID: who.customer.ID, IP: clientIP(r), Title: f.Get("title"), Body: f.Get("body")}
	nr.Rating, _ = strconv.Atoi(strings.TrimSpace(f.Get("rating")))
	form := &communityForm{rating: nr.Rating, title: nr.Title, review: nr.Body}
	if nr.Rating < 1 || nr.Rating > 5 {
		s.communityRefused(w, r, invalidRating(), form)
		return
	}
	if _, err := s.community.PostReview(r.Context(), nr); err != nil {
		s.communityRefused(w, r, err, form)
		return
	}
	s.communityRedirect(w, r, v, "#reviews", locale.M("Thank you for your review."), false)
}

func (s *Server) pageVoteReview(w http.ResponseWriter, r *http.Request) {
	v, who, ok := s.communityShopper(w, r, locale.M("vote"))
	if !ok {
		return
	}
	rv, err := s.productReview(r, v.ID)
	if err == nil {
		_, err = s.community.Vote(r.Context(), rv.ID, who.customer.ID, clientIP(r))
	}
	if err != nil {
		s.communityFailed(w, r, v, "#reviews", err)
		return
	}
	s.communityRedirect(w, r, v, "#reviews", locale.M("Thank you: your vote is counted."), false)
}
