package web

import "mistore/internal/waitlist"

// WaitlistForTest returns the server's waitlist, for tests to run its
// notifier as the periodic sweep would.
func (s *Server) WaitlistForTest() *waitlist.Service { return s.waitlist }
