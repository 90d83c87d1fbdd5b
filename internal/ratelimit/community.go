package ratelimit

import "time"

// Posting limits of the community (package community). They count every
// post attempt that passed validation, so that a script is held back
// whether or not its posts are accepted.
var (
	// CommentsPerMember counts comments posted by one member. Five a
	// minute is more than anyone types by hand, and stops a script from
	// flooding a thread from one account.
	CommentsPerMember = Rule{Name: "community_comment_member", Limit: 5, Window: time.Minute}
	// CommentsPerIP counts comments posted from one IP address, across
	// accounts, since throwaway accounts are free. Twenty a minute leaves
	// room for a household or an office behind one address.
	CommentsPerIP = Rule{Name: "community_comment_ip", Limit: 20, Window: time.Minute}
	// ReviewsPerMember counts reviews posted by one member. A member
	// reviews what they bought, one review per product: ten an hour is
	// plenty after a big order.
	ReviewsPerMember = Rule{Name: "community_review_member", Limit: 10, Window: time.Hour}
	// ReviewsPerIP counts reviews posted from one IP address, across
	// accounts, against review stuffing with throwaway accounts.
	ReviewsPerIP = Rule{Name: "community_review_ip", Limit: 30, Window: time.Hour}
	// ReportsPerMember counts comment reports by one member: thirty an
	// hour is a busy moderator-minded member, not a script burying the
	// queue.
	ReportsPerMember = Rule{Name: "community_report_member", Limit: 30, Window: time.Hour}
	// VotesPerMember counts "helpful" votes by one member: a hundred an
	// hour reads every review of several products, and stops a script
	// from inflating reviews with one account.
	VotesPerMember = Rule{Name: "community_vote_member", Limit: 100, Window: time.Hour}
	// VotesPerIP counts "helpful" votes from one IP address, across
	// accounts.
	VotesPerIP = Rule{Name: "community_vote_ip", Limit: 300, Window: time.Hour}
)
