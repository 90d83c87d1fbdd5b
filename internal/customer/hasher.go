package customer

import (
	"context"
	"runtime"
	"sync"
)

// Hasher runs a service's argon2id work: customers' and staff's sign-in
// both hash through one, each with its own.
type Hasher struct {
	// slots bounds how many argon2id computations run at once: each
	// takes Params.Memory, and a burst of sign-ins must queue rather
	// than exhaust the server's memory.
	slots chan struct{}

	// dummy is a hash of no one's password under dummyFor, which sign-in
	// verifies against when an address has no account, so that it takes
	// as long as a wrong password.
	dummyMu  sync.Mutex
	dummy    string
	dummyFor Params
}

// NewHasher returns a Hasher that runs as many hashes at once as there
// are CPUs, and at least two.
func NewHasher() *Hasher {
	return &Hasher{slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
}

// Hash hashes password under p, waiting for a free slot.
func (h *Hasher) Hash(ctx context.Context, password string, p Params) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return HashPassword(password, p)
}

// Verify checks password against encoded, waiting for a free slot.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	return VerifyPassword(encoded, password)
}

// Dummy returns a hash under p of a password no one has, made on first
// use and again when p changes. Sign-in verifies against it when the
// address is unknown; it asks for it on every path, so that its one-time
// cost does not mark the first unknown address.
func (h *Hasher) Dummy(ctx context.Context, p Params) (string, error) {
	h.dummyMu.Lock()
	defer h.dummyMu.Unlock()
	if h.dummy == "" || h.dummyFor != p {
		d, err := h.Hash(ctx, "no one has this password: "+randomID(), p)
		if err != nil {
			return "", err
		}
		h.dummy, h.dummyFor = d, p
	}
	return h.dummy, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }
