package staff_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/staff"
)

func TestAPIKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := bg()
		owner := e.create(t, "owner@example.com", staff.RoleOwner)

		key, info, err := e.s.CreateAPIKey(ctx, "  warehouse sync ", staff.RoleManager, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key, "msk_") || len(key) != 4+43 {
			t.Errorf("key %q: want msk_ and 43 characters of base64url", key)
		}
		want := staff.APIKey{ID: info.ID, Name: "warehouse sync", Role: staff.RoleManager, Prefix: key[:12], CreatedAt: e.clock.Now()}
		if info != want || info.ID == 0 {
			t.Errorf("CreateAPIKey info = %+v, want %+v", info, want)
		}
		key2, _, err := e.s.CreateAPIKey(ctx, "reports", staff.RoleViewer, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if key2 == key || key2[:12] == key[:12] {
			t.Errorf("two keys alike: %q, %q", key, key2)
		}
		var by *int64
		if err := d.Write.QueryRowContext(ctx, "SELECT created_by FROM api_keys WHERE id = $1", info.ID).Scan(&by); err != nil || by != nil {
			t.Errorf("created_by of a command-line key = %v, %v; want NULL", by, err)
		}

		// Lookup records the use, at most once per TouchInterval.
		got, err := e.s.APIKey(ctx, key)
		now := e.clock.Now()
		if err != nil || got.ID != info.ID || got.Role != staff.RoleManager || got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
			t.Fatalf("APIKey = %+v, %v", got, err)
		}
		e.clock.Add(30 * time.Second)
		if got, err := e.s.APIKey(ctx, key); err != nil || !got.LastUsedAt.Equal(now) {
			t.Errorf("touched again within a minute: %+v, %v", got, err)
		}
		e.clock.Add(30 * time.Second)
		if got, err := e.s.APIKey(ctx, key); err != nil || !got.LastUsedAt.Equal(e.clock.Now()) {
			t.Errorf("not touched after a minute: %+v, %v", got, err)
		}

		for _, bad := range []string{"", "msk_", key[:len(key)-1], key + "A", strings.TrimPrefix(key, "msk_"), "MSK_" + key[4:],
			"msk_" + strings.Repeat("A", 43)} {
			if _, err := e.s.APIKey(ctx, bad); !errors.Is(err, staff.ErrNoSession) {
				t.Errorf("APIKey(%q) = %v", bad, err)
			}
		}

		if err := e.s.RevokeAPIKey(ctx, info.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.APIKey(ctx, key); !errors.Is(err, staff.ErrNoSession) {
			t.Errorf("a revoked key works: %v", err)
		}
		if _, err := e.s.APIKey(ctx, key2); err != nil {
			t.Errorf("revoking one key revoked another: %v", err)
		}
		if err := e.s.RevokeAPIKey(ctx, info.ID); err != nil {
			t.Errorf("revoking twice: %v", err)
		}
		if err := e.s.RevokeAPIKey(ctx, 9999); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("revoking no key = %v", err)
		}

		list, err := e.s.ListAPIKeys(ctx)
		if err != nil || len(list) != 2 || list[0].ID != info.ID || !list[0].Revoked || list[1].Revoked || list[1].Name != "reports" {
			t.Fatalf("ListAPIKeys = %+v, %v", list, err)
		}

		for _, c := range []struct {
			name string
			role staff.Role
			want error
		}{
			{"", staff.RoleViewer, staff.ErrInvalidName},
			{"   ", staff.RoleViewer, staff.ErrInvalidName},
			{strings.Repeat("n", 101), staff.RoleViewer, staff.ErrInvalidName},
			{"ok", "admin", staff.ErrInvalidRole},
		} {
			if _, _, err := e.s.CreateAPIKey(ctx, c.name, c.role, 0); !errors.Is(err, c.want) {
				t.Errorf("CreateAPIKey(%.20q, %q) = %v, want %v", c.name, c.role, err, c.want)
			}
		}
	})
}
