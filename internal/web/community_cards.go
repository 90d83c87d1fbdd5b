package web

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"mistore/internal/catalog"
	"mistore/internal/community"
)

// Ratings in the product lists' cards: every card on a page gets its
// product's average and count from one batch query, and the page's cache
// key holds them, so a new review shows in the lists at once.

// productCard is a product as a list's card shows it: the view, and the
// product's rating.
type productCard struct {
	catalog.View
	Rating rating
}

// rating is a product's rating summary as pages show it.
type rating struct {
	community.Summary
}

// Stars is the average as five star characters, rounded to whole stars:
// "★★★★☆". Screen readers get the card's words instead
// (card.partial.html).
func (r rating) Stars() string {
	full := min(5, max(0, int(r.Average+0.5)))
	return strings.Repeat("★", full) + strings.Repeat("☆", 5-full)
}

// productCards returns views as cards with their ratings, and the part of
// the page's cache key the ratings decide.
func (s *Server) productCards(ctx context.Context, views []catalog.View) ([]productCard, string, error) {
	ids := make([]int64, len(views))
	for i := range views {
		ids[i] = views[i].ID
	}
	sums, err := s.community.Summaries(ctx, ids)
	if err != nil {
		return nil, "", fmt.Errorf("ratings of a list: %w", err)
	}
	cards := make([]productCard, len(views))
	var key strings.Builder
	key.WriteString("|r")
	for i := range views {
		sum := sums[views[i].ID]
		cards[i] = productCard{View: views[i], Rating: rating{sum}}
		key.WriteString(strconv.Itoa(sum.Count))
		key.WriteByte(':')
		key.WriteString(sum.AverageText())
		key.WriteByte(',')
	}
	return cards, key.String(), nil
}
