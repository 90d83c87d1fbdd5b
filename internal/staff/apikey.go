package staff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mistore/internal/audit"
	"mistore/internal/customer"
	"mistore/internal/db"
)

// APIKeyPrefix starts every API key, so that a leaked one is recognisable
// (by secret scanners, too) as a key of this store.
const APIKeyPrefix = "msk_"

// apiKeyPrefixLen is how much of a key is kept for display: "msk_" and
// 8 characters (48 of its 256 bits), enough to tell keys apart in a list,
// far too little to guess the rest from.
const apiKeyPrefixLen = 12

// MaxAPIKeyNameLen is the longest name of an API key, in characters.
const MaxAPIKeyNameLen = 100

// APIKey is an API key as the back office lists it: never the key itself,
// which exists only with its holder.
type APIKey struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Prefix is the key's first 12 characters, such as "msk_AbCd1234",
	// to tell keys apart.
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	Revoked    bool       `json:"revoked"`
}

// CreateAPIKey makes an API key with role and returns it, to be shown
// once: the store keeps only its SHA-256. The key is "msk_" and 32 random
// bytes in unpadded base64url. name says what it is for; createdBy is the
// member who made it, 0 when made from the command line.
func (s *Service) CreateAPIKey(ctx context.Context, name string, role Role, createdBy int64) (string, APIKey, error) {
	if !role.valid() {
		return "", APIKey{}, fmt.Errorf("create API key: %w %q", ErrInvalidRole, role)
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxAPIKeyNameLen || !utf8.ValidString(name) {
		return "", APIKey{}, fmt.Errorf("create API key: %w: a key's name must be 1 to %d characters", ErrInvalidName, MaxAPIKeyNameLen)
	}
	token, err := customer.NewToken()
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	key := APIKeyPrefix + token
	info := APIKey{Name: name, Role: role, Prefix: key[:apiKeyPrefixLen], CreatedAt: db.Time(s.now())}
	var by sql.NullInt64
	if createdBy != 0 {
		by = sql.NullInt64{Int64: createdBy, Valid: true}
	}
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO api_keys (name, role, key_hash, prefix, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, name, string(role), customer.HashToken(key), info.Prefix, by, info.CreatedAt).Scan(&info.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "apikey.create", keySubject(info.ID), nil, info)
	})
	if err != nil {
		return "", APIKey{}, fmt.Errorf("create API key %q: %w", name, err)
	}
	return key, info, nil
}

// APIKey returns the key key, or ErrNoSession when it is unknown or
// revoked. Its use is recorded, at most once per TouchInterval.
func (s *Service) APIKey(ctx context.Context, key string) (APIKey, error) {
	token, ok := strings.CutPrefix(key, APIKeyPrefix)
	if !ok || !customer.WellFormedToken(token) {
		return APIKey{}, ErrNoSession
	}
	hash := customer.HashToken(key)
	k, err := scanAPIKey(s.db.Reader().QueryRowContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys WHERE key_hash = $1", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrNoSession
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("API key: %w", err)
	}
	if k.Revoked {
		return APIKey{}, ErrNoSession
	}
	now := db.Time(s.now())
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= TouchInterval {
		// Relaxed, and a failure ignored: last use is a hint for whoever
		// cleans up keys, not a security control.
		if _, err := s.db.ExecRelaxed(ctx, `UPDATE api_keys SET last_used_at = $2
			WHERE key_hash = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, hash, now); err == nil {
			k.LastUsedAt = &now
		}
	}
	return k, nil
}

// ListAPIKeys returns every API key, revoked ones included, oldest first.
func (s *Service) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, err := s.db.Reader().QueryContext(ctx, "SELECT "+apiKeyColumns+" FROM api_keys ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey stops key id from working, at once and for good; ErrNotFound
// if there is no such key. Revoking a revoked key changes nothing.
func (s *Service) RevokeAPIKey(ctx context.Context, id int64) error {
	now := db.Time(s.now())
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		if err := mustAffect(tx.ExecContext(ctx, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1", id, now)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "apikey.revoke", keySubject(id), map[string]bool{"revoked": false}, map[string]bool{"revoked": true})
	})
	if err != nil {
		return fmt.Errorf("revoke API key %d: %w", id, err)
	}
	return nil
}

// keySubject names API key id in the audit log.
func keySubject(id int64) string { return "apikey:" + strconv.FormatInt(id, 10) }

const apiKeyColumns = "id, name, role, prefix, created_at, last_used_at, revoked_at"

// scanAPIKey reads the apiKeyColumns of one row.
func scanAPIKey(row interface{ Scan(...any) error }) (APIKey, error) {
	var (
		k             APIKey
		role          string
		used, revoked sql.NullTime
	)
	if err := row.Scan(&k.ID, &k.Name, &role, &k.Prefix, &k.CreatedAt, &used, &revoked); err != nil {
		return APIKey{}, err
	}
	k.Role, k.Revoked, k.CreatedAt = Role(role), revoked.Valid, k.CreatedAt.UTC()
	if used.Valid {
		t := used.Time.UTC()
		k.LastUsedAt = &t
	}
	return k, nil
}
