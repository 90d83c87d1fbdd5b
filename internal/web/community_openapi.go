package web

// communitySchemas are the bodies of the community API and its
// moderation, as OpenAPI components.
func communitySchemas() map[string]any {
	str, integer, boolean, tm := schemaString, schemaInteger, schemaBoolean, schemaTime
	ref, arr, obj := schemaRef, schemaArray, schemaObject
	author := obj([]string{"name", "posts", "member_since"}, map[string]any{
		"name": str, "posts": map[string]any{"type": "integer", "description": "The author's comments and reviews that show."},
		"member_since": map[string]any{"type": "string", "format": "date-time", "description": "When the account was created."},
	})
	comment := map[string]any{
		"id": integer, "number": map[string]any{"type": "integer", "description": "1, 2, 3... in the product's thread."},
		"author": ref("CommentAuthor"), "body": map[string]any{"type": "string", "description": "Plain text: escape it."},
		"reply_to": integer, "quote": obj([]string{"number"}, map[string]any{"number": integer, "author": str, "body": str, "gone": boolean}),
		"created_at": tm, "edited_at": tm, "deleted": boolean,
	}
	review := map[string]any{
		"id": integer, "rating": map[string]any{"type": "integer", "minimum": 1, "maximum": 5}, "title": str, "body": str,
		"author": ref("CommentAuthor"), "verified": boolean, "helpful": integer, "created_at": tm, "voted": boolean,
	}
	adminComment := map[string]any{"product_id": integer, "customer_id": integer, "hidden": boolean, "hidden_reason": str, "open_reports": integer}
	for k, v := range comment {
		adminComment[k] = v
	}
	adminReview := map[string]any{"product_id": integer, "customer_id": integer, "hidden": boolean, "hidden_reason": str, "moderated": boolean}
	for k, v := range review {
		adminReview[k] = v
	}
	return map[string]any{
		"CommentAuthor":        author,
		"Comment":              obj([]string{"id", "number", "author", "body", "created_at"}, comment),
		"CommentList":          obj([]string{"comments", "page", "pages", "total"}, map[string]any{"comments": arr(ref("Comment")), "page": integer, "pages": integer, "total": integer}),
		"CommentRequest":       obj([]string{"body"}, map[string]any{"body": str, "reply_to": integer}),
		"CommentEditRequest":   obj([]string{"body"}, map[string]any{"body": str}),
		"CommentReportRequest": obj(nil, map[string]any{"reason": str}),
		"CommentReport":        obj([]string{"comment_id", "reported"}, map[string]any{"comment_id": integer, "reported": boolean}),
		"Review":               obj([]string{"id", "rating", "title", "body", "author", "verified", "helpful", "created_at"}, review),
		"ReviewList": obj([]string{"reviews", "average", "count", "distribution"}, map[string]any{
			"reviews": arr(ref("Review")), "average": map[string]any{"type": "number", "nullable": true}, "count": integer,
			"distribution": map[string]any{"type": "object", "additionalProperties": integer, "description": "Reviews per number of stars, \"1\" to \"5\"."},
			"sort":         str, "page": integer, "pages": integer, "total": integer,
		}),
		"ReviewRequest": obj([]string{"rating", "title", "body"}, map[string]any{
			"rating": map[string]any{"type": "integer", "minimum": 1, "maximum": 5}, "title": str, "body": str,
		}),
		"ReviewVote":       obj([]string{"review_id", "helpful"}, map[string]any{"review_id": integer, "helpful": integer, "voted": boolean}),
		"AdminComment":     obj([]string{"id", "number", "body", "hidden", "open_reports"}, adminComment),
		"AdminReview":      obj([]string{"id", "rating", "title", "body", "hidden", "moderated"}, adminReview),
		"ModerationReason": obj(nil, map[string]any{"reason": str}),
		"ModerationQueue": obj([]string{"items"}, map[string]any{"items": arr(obj([]string{"kind", "product", "at"}, map[string]any{
			"kind": map[string]any{"type": "string", "enum": []string{"comment", "review"}}, "at": tm,
			"product": obj(nil, map[string]any{"id": integer, "slug": str, "name": str}),
			"comment": ref("AdminComment"), "review": ref("AdminReview"),
			"reports": arr(obj(nil, map[string]any{"customer_id": integer, "name": str, "reason": str, "at": tm})),
		}))}),
		"CommunityMember": obj([]string{"customer_id", "posts", "banned"}, map[string]any{
			"customer_id": integer, "name": str, "email": str, "posts": integer, "member_since": tm,
			"banned": boolean, "banned_at": tm, "ban_reason": str, "disabled": boolean,
		}),
		"WordFilter": obj([]string{"words"}, map[string]any{"words": arr(str)}),
	}
}
