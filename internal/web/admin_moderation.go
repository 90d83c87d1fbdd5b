package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"mistore/internal/community"
	"mistore/internal/staff"
)

// Moderation in the back office: the queue of reported comments and new
// reviews, hiding and restoring a comment or review with a reason,
// dismissing a comment's reports, approving a review, banning a member
// from posting and lifting the ban, and the word filter. The service
// audits every change, in the change's transaction. Every route needs
// staff.PermModerate (support, managers, owners).

const permModerate = staff.PermModerate

// adminModerationRoutes registers the moderation pages and admin API.
func (s *Server) adminModerationRoutes(a *adminRouter) {
	a.page("GET /admin/moderation", permModerate, s.adminModerationPage)
	a.page("GET /admin/moderation/comments/{id}", permModerate, s.adminModerationCommentPage)
	a.page("GET /admin/moderation/reviews/{id}", permModerate, s.adminModerationReviewPage)
	for _, act := range []string{"hide", "restore", "dismiss"} {
		a.page("POST /admin/moderation/comments/{id}/"+act, permModerate, s.adminModerationCommentAction)
	}
	for _, act := range []string{"hide", "restore", "approve"} {
		a.page("POST /admin/moderation/reviews/{id}/"+act, permModerate, s.adminModerationReviewAction)
	}
	a.page("POST /admin/moderation/members/{id}/ban", permModerate, s.adminModerationBan)
	a.page("POST /admin/moderation/members/{id}/unban", permModerate, s.adminModerationBan)
	a.page("POST /admin/moderation/words", permModerate, s.adminModerationWords)

	idParam := func(what string) paramDoc {
		return paramDoc{name: "id", in: "path", typ: "integer", desc: what + " id.", required: true}
	}
	a.api("GET /api/v1/admin/moderation/queue", permModerate, s.apiAdminModerationQueue, opDoc{
		summary: "What waits for a moderator, oldest first: comments with open reports (each report's reason) and reviews " +
			"nobody has looked at yet.", response: "ModerationQueue",
	})
	a.api("GET /api/v1/admin/comments/{id}", permModerate, s.apiAdminComment, opDoc{
		summary: "One comment as staff see it: hidden or deleted bodies included.", response: "AdminComment", params: []paramDoc{idParam("Comment")},
	})
	a.api("POST /api/v1/admin/comments/{id}/hide", permModerate, s.apiAdminCommentAction, opDoc{
		summary: "Hide a comment from the storefront, for a reason (required; audit-logged); its reports are resolved and " +
			"it no longer counts in its author's posts.", response: "AdminComment", request: "ModerationReason", params: []paramDoc{idParam("Comment")},
	})
	a.api("POST /api/v1/admin/comments/{id}/restore", permModerate, s.apiAdminCommentAction, opDoc{
		summary: "Show a hidden comment again, for a reason.", response: "AdminComment", request: "ModerationReason", params: []paramDoc{idParam("Comment")},
	})
	a.api("POST /api/v1/admin/comments/{id}/dismiss-reports", permModerate, s.apiAdminCommentAction, opDoc{
		summary: "Resolve a comment's reports without hiding it: it leaves the queue.", response: "AdminComment", params: []paramDoc{idParam("Comment")},
	})
	a.api("GET /api/v1/admin/reviews/{id}", permModerate, s.apiAdminReview, opDoc{
		summary: "One review as staff see it.", response: "AdminReview", params: []paramDoc{idParam("Review")},
	})
	a.api("POST /api/v1/admin/reviews/{id}/hide", permModerate, s.apiAdminReviewAction, opDoc{
		summary:  "Hide a review, for a reason (required): it leaves the storefront, the rating and its author's posts.",
		response: "AdminReview", request: "ModerationReason", params: []paramDoc{idParam("Review")},
	})
	a.api("POST /api/v1/admin/reviews/{id}/restore", permModerate, s.apiAdminReviewAction, opDoc{
		summary: "Show a hidden review again, for a reason.", response: "AdminReview", request: "ModerationReason", params: []paramDoc{idParam("Review")},
	})
	a.api("POST /api/v1/admin/reviews/{id}/approve", permModerate, s.apiAdminReviewAction, opDoc{
		summary: "Mark a review as looked at: it leaves the queue and stays shown.", response: "AdminReview", params: []paramDoc{idParam("Review")},
	})
	a.api("GET /api/v1/admin/members/{id}", permModerate, s.apiAdminMember, opDoc{
		summary: "A customer's standing in the community: posts, member since, ban.", response: "CommunityMember", params: []paramDoc{idParam("Customer")},
	})
	a.api("POST /api/v1/admin/members/{id}/ban", permModerate, s.apiAdminBan, opDoc{
		summary:  "Ban a customer from posting, voting and reporting, for a reason (required). Their posts stay; hide them one by one.",
		response: "CommunityMember", request: "ModerationReason", params: []paramDoc{idParam("Customer")},
	})
	a.api("DELETE /api/v1/admin/members/{id}/ban", permModerate, s.apiAdminBan, opDoc{
		summary: "Lift a customer's ban (the body, with a reason, may be left out).", response: "CommunityMember", params: []paramDoc{idParam("Customer")},
	})
	a.api("GET /api/v1/admin/word-filter", permModerate, s.apiAdminWords, opDoc{
		summary: "The word filter: a post containing one of these words or phrases (whole words, any case) is refused.", response: "WordFilter",
	})
	a.api("PUT /api/v1/admin/word-filter", permModerate, s.apiAdminSetWords, opDoc{
		summary: "Replace the word filter (blank entries and duplicates dropped, case ignored).", response: "WordFilter", request: "WordFilter",
	})
}

// adminCommentJSON is a comment as staff see it.
type adminCommentJSON struct {
	commentJSON
	ProductID    int64  `json:"product_id"`
	CustomerID   int64  `json:"customer_id"`
	Hidden       bool   `json:"hidden"`
	HiddenReason string `json:"hidden_reason,omitempty"`
	OpenReports  int    `json:"open_reports"`
}

func adminCommentOf(c *community.Comment) adminCommentJSON {
	j := adminCommentJSON{commentJSON: commentOf(c), ProductID: c.ProductID, CustomerID: c.Author.ID, Hidden: c.Hidden,
		HiddenReason: c.HiddenReason, OpenReports: c.OpenReports}
	// Staff see what was hidden or deleted.
	j.Body = c.Body
	return j
}

// adminReviewJSON is a review as staff see it.
type adminReviewJSON struct {
	reviewJSON
	ProductID    int64  `json:"product_id"`
	CustomerID   int64  `json:"customer_id"`
	Hidden       bool   `json:"hidden"`
	HiddenReason string `json:"hidden_reason,omitempty"`
	Moderated    bool   `json:"moderated"`
}

func adminReviewOf(rv *community.Review) adminReviewJSON {
	return adminReviewJSON{reviewJSON: reviewOf(rv, false), ProductID: rv.ProductID, CustomerID: rv.Author.ID,
		Hidden: rv.Hidden, HiddenReason: rv.HiddenReason, Moderated: rv.Moderated}
}

// reportJSON is one member's report of a comment.
type reportJSON struct {
	CustomerID int64     `json:"customer_id"`
	Name       string    `json:"name"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// queueItemJSON is one post waiting for a moderator.
type queueItemJSON struct {
	Kind    community.Kind    `json:"kind"`
	Product map[string]any    `json:"product"`
	At      time.Time         `json:"at"`
	Comment *adminCommentJSON `json:"comment,omitempty"`
	Review  *adminReviewJSON  `json:"review,omitempty"`
	Reports []reportJSON      `json:"reports,omitempty"`
}

// memberJSON is a customer's standing in the community.
type memberJSON struct {
	CustomerID  int64      `json:"customer_id"`
	Name        string     `json:"name"`
	Email       string     `json:"email"`
	Posts       int        `json:"posts"`
	MemberSince time.Time  `json:"member_since"`
	Banned      bool       `json:"banned"`
	BannedAt    *time.Time `json:"banned_at,omitempty"`
	BanReason   string     `json:"ban_reason,omitempty"`
	Disabled    bool       `json:"disabled"`
}

func memberOf(m *community.Member) memberJSON {
	j := memberJSON{CustomerID: m.ID, Name: m.Name, Email: m.Email, Posts: m.Posts, MemberSince: m.MemberSince.UTC(),
		Banned: m.Banned, BanReason: m.BanReason, Disabled: m.Disabled}
	if m.Banned && !m.BannedAt.IsZero() {
		t := m.BannedAt.UTC()
		j.BannedAt = &t
	}
	return j
}

func (s *Server) apiAdminModerationQueue(w http.ResponseWriter, r *http.Request) {
	items, err := s.community.Queue(r.Context(), 0)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	out := make([]queueItemJSON, 0, len(items))
	for i := range items {
		it := &items[i]
		j := queueItemJSON{Kind: it.Kind, At: it.At.UTC(),
			Product: map[string]any{"id": it.Product.ID, "slug": it.Product.Slug, "name": it.Product.Name}}
		if it.Comment != nil {
			c := adminCommentOf(it.Comment)
			j.Comment = &c
		}
		if it.Review != nil {
			rv := adminReviewOf(it.Review)
			j.Review = &rv
		}
		for _, rep := range it.Reports {
			j.Reports = append(j.Reports, reportJSON{CustomerID: rep.CustomerID, Name: rep.Name, Reason: rep.Reason, At: rep.At.UTC()})
		}
		out = append(out, j)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"items": out})
}

// moderationReason is the body of hide, restore and ban.
type moderationReason struct {
	Reason string `json:"reason"`
}

func (s *Server) apiAdminComment(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.community.Comment(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminCommentOf(c))
}

// commentAction runs the hide, restore or dismiss the path ends with.
func (s *Server) commentAction(r *http.Request, id int64, reason string) (string, error) {
	ctx := r.Context()
	switch {
	case strings.HasSuffix(r.URL.Path, "/hide"):
		return "hidden", s.community.HideComment(ctx, id, reason)
	case strings.HasSuffix(r.URL.Path, "/restore"):
		return "restored", s.community.RestoreComment(ctx, id, reason)
	}
	return "left as it is; its reports are dismissed", s.community.DismissReports(ctx, id)
}

// reviewAction runs the hide, restore or approve the path ends with.
func (s *Server) reviewAction(r *http.Request, id int64, reason string) (string, error) {
	ctx := r.Context()
	switch {
	case strings.HasSuffix(r.URL.Path, "/hide"):
		return "hidden", s.community.HideReview(ctx, id, reason)
	case strings.HasSuffix(r.URL.Path, "/restore"):
		return "restored", s.community.RestoreReview(ctx, id, reason)
	}
	return "approved", s.community.ApproveReview(ctx, id)
}

func (s *Server) apiAdminCommentAction(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req moderationReason
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.commentAction(r, id, req.Reason); err != nil {
		s.apiFail(w, r, err)
		return
	}
	c, err := s.community.Comment(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminCommentOf(c))
}

func (s *Server) apiAdminReview(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rv, err := s.community.Review(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminReviewOf(rv))
}

func (s *Server) apiAdminReviewAction(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req moderationReason
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if _, err := s.reviewAction(r, id, req.Reason); err != nil {
		s.apiFail(w, r, err)
		return
	}
	rv, err := s.community.Review(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, adminReviewOf(rv))
}

// memberID reads the path's customer id.
func memberID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, community.ErrNotFound
	}
	return id, nil
}

func (s *Server) apiAdminMember(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	m, err := s.community.Member(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, memberOf(m))
}

func (s *Server) apiAdminBan(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req moderationReason
	if r.Method == http.MethodPost {
		err = decodeJSON(r, &req)
	} else {
		err = decodeOptionalJSON(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if r.Method == http.MethodPost {
		err = s.community.Ban(r.Context(), id, req.Reason)
	} else {
		err = s.community.Unban(r.Context(), id, req.Reason)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	m, err := s.community.Member(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, memberOf(m))
}

// wordFilterJSON is the word filter, in and out.
type wordFilterJSON struct {
	Words []string `json:"words"`
}

func (s *Server) apiAdminWords(w http.ResponseWriter, r *http.Request) {
	words, err := s.community.Words(r.Context())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, wordFilterJSON{Words: nonNil(words)})
}

func (s *Server) apiAdminSetWords(w http.ResponseWriter, r *http.Request) {
	var req wordFilterJSON
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if err := s.community.SetWords(r.Context(), req.Words); err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.apiAdminWords(w, r)
}

// nonNil makes a nil list an empty one, so that JSON says [] not null.
func nonNil(words []string) []string {
	if words == nil {
		return []string{}
	}
	return words
}
