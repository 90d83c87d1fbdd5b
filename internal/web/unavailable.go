package web

// What a client is told when the database is out of reach (db.IsUnavailable):
// a 503 with code service_unavailable and Retry-After. The request did not
// commit, so retrying it is safe; a few seconds covers a failover or a
// restart of the server, and readiness takes the instance out of the load
// balancer meanwhile if it lasts.
const (
	unavailableMessage = "The store cannot reach its database just now, so nothing was saved; please try again in a few seconds."
	// unavailableRetry is the Retry-After, in seconds.
	unavailableRetry = 2
)
