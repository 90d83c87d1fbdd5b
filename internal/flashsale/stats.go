package flashsale

import (
	"errors"
	"sync/atomic"

	"mistore/internal/input"
)

// ClaimOutcomes are the outcomes ClaimStats counts, a short fixed list so
// that a metric labelled by them stays small.
var ClaimOutcomes = []string{"claimed", "sold_out", "not_started", "ended", "paused", "not_registered", "limit_reached", "invalid", "not_found", "busy", "error"}

// claimStats counts the claims this process decided, by outcome; the
// index is the outcome's place in ClaimOutcomes.
type claimStats struct {
	n [11]atomic.Uint64
}

// count records the outcome of one claim.
func (c *claimStats) count(err error) {
	c.n[outcomeIndex(err)].Add(1)
}

func outcomeIndex(err error) int {
	var busy *BusyError
	var fe *input.FieldError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrSoldOut):
		return 1
	case errors.Is(err, ErrNotStarted):
		return 2
	case errors.Is(err, ErrEnded):
		return 3
	case errors.Is(err, ErrPaused):
		return 4
	case errors.Is(err, ErrNotRegistered):
		return 5
	case errors.Is(err, ErrLimitReached):
		return 6
	case errors.As(err, &fe):
		return 7
	case errors.Is(err, ErrNotFound):
		return 8
	case errors.As(err, &busy), errors.Is(err, ErrBusy):
		return 9
	}
	return 10
}

// ClaimStats returns how many claims this process decided since it
// started, by outcome (the keys of ClaimOutcomes), for the store's
// metrics.
func (s *Service) ClaimStats() map[string]uint64 {
	out := make(map[string]uint64, len(ClaimOutcomes))
	for i, name := range ClaimOutcomes {
		out[name] = s.claims.n[i].Load()
	}
	return out
}
