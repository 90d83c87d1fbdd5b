package web

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"mistore/internal/community"
)

// The moderation pages: the queue with every action beside its post, a
// page per comment and review (where a hidden one is restored), the
// banned members and the word filter. Members' text is rendered only
// through community.RenderBody, here as on the storefront.

// adminModerationContent is the moderation page's content.
type adminModerationContent struct {
	Queue  []community.QueueItem
	Banned []community.Member
	Words  string
	// Market is a market the storefront links go to.
	Market string
}

// Render renders a member's plain text (community.RenderBody).
func (adminModerationContent) Render(text string) template.HTML { return community.RenderBody(text) }

// adminModerationItemContent is a comment's or review's page content.
type adminModerationItemContent struct {
	Comment *community.Comment
	Review  *community.Review
	Member  *community.Member
}

// Render renders a member's plain text (community.RenderBody).
func (adminModerationItemContent) Render(text string) template.HTML {
	return community.RenderBody(text)
}

// storefrontMarket is a market whose storefront the back office links to:
// comments and reviews are the same in every market.
func (s *Server) storefrontMarket(r *http.Request) string {
	if set, err := s.catalog.Markets(r.Context()); err == nil && len(set.Markets) > 0 {
		return set.Markets[0].Code
	}
	return "us"
}

func (s *Server) adminModerationPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	queue, err := s.community.Queue(ctx, 0)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	banned, err := s.community.Banned(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	words, err := s.community.Words(ctx)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_moderation", "moderation", "Moderation", adminModerationContent{
		Queue: queue, Banned: banned, Words: strings.Join(words, "\n"), Market: s.storefrontMarket(r)})
}

func (s *Server) adminModerationCommentPage(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	var c *community.Comment
	if err == nil {
		c, err = s.community.Comment(r.Context(), id)
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	content := adminModerationItemContent{Comment: c}
	if content.Member, err = s.moderationMember(r, c.Author.ID); err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_moderation_item", "moderation", "Comment #"+strconv.Itoa(c.Number), content)
}

func (s *Server) adminModerationReviewPage(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	var rv *community.Review
	if err == nil {
		rv, err = s.community.Review(r.Context(), id)
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	content := adminModerationItemContent{Review: rv}
	if content.Member, err = s.moderationMember(r, rv.Author.ID); err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, "admin_moderation_item", "moderation", "Review", content)
}

// moderationMember is the author's standing; nil for an erased account.
func (s *Server) moderationMember(r *http.Request, customer int64) (*community.Member, error) {
	m, err := s.community.Member(r.Context(), customer)
	if errors.Is(err, community.ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// moderationBack is where a moderation form returns: the page it was
// sent from when that is a moderation page, else the queue.
func moderationBack(r *http.Request, fallback string) string {
	if back := r.PostFormValue("back"); (strings.HasPrefix(back, "/admin/moderation") || strings.HasPrefix(back, "/admin/customers/")) &&
		!strings.ContainsAny(back, "\\\r\n") {
		return back
	}
	return fallback
}

func (s *Server) adminModerationCommentAction(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	path := "/admin/moderation/comments/" + strconv.FormatInt(id, 10)
	done := ""
	if err == nil {
		done, err = s.commentAction(r, id, r.PostFormValue("reason"))
	}
	if err != nil {
		s.adminFormFail(w, r, err, moderationBack(r, path))
		return
	}
	s.adminRedirect(w, r, moderationBack(r, path), "The comment is "+done+".")
}

func (s *Server) adminModerationReviewAction(w http.ResponseWriter, r *http.Request) {
	id, err := communityID(r)
	path := "/admin/moderation/reviews/" + strconv.FormatInt(id, 10)
	done := ""
	if err == nil {
		done, err = s.reviewAction(r, id, r.PostFormValue("reason"))
	}
	if err != nil {
		s.adminFormFail(w, r, err, moderationBack(r, path))
		return
	}
	s.adminRedirect(w, r, moderationBack(r, path), "The review is "+done+".")
}

func (s *Server) adminModerationBan(w http.ResponseWriter, r *http.Request) {
	id, err := memberID(r)
	ban := strings.HasSuffix(r.URL.Path, "/ban")
	if err == nil {
		if ban {
			err = s.community.Ban(r.Context(), id, r.PostFormValue("reason"))
		} else {
			err = s.community.Unban(r.Context(), id, r.PostFormValue("reason"))
		}
	}
	back := moderationBack(r, "/admin/moderation")
	if err != nil {
		s.adminFormFail(w, r, err, back)
		return
	}
	msg := "The member may post again."
	if ban {
		msg = "The member is banned from posting."
	}
	s.adminRedirect(w, r, back, msg)
}

func (s *Server) adminModerationWords(w http.ResponseWriter, r *http.Request) {
	var words []string
	for _, line := range strings.Split(r.PostFormValue("words"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			words = append(words, line)
		}
	}
	if err := s.community.SetWords(r.Context(), words); err != nil {
		s.adminFormFail(w, r, err, "/admin/moderation#words")
		return
	}
	s.adminRedirect(w, r, "/admin/moderation#words", "The word filter is saved.")
}
