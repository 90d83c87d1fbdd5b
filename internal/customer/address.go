package customer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"mistore/internal/db"
)

// MaxAddresses bounds a customer's saved addresses.
const MaxAddresses = 20

// Address is a saved shipping address. Country is an ISO 3166-1 alpha-2
// code; Line2, Region and PostalCode may be empty.
type Address struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
}

// Addresses returns customer id's saved addresses, oldest first.
func (s *Service) Addresses(ctx context.Context, id int64) ([]Address, error) {
	list, err := addresses(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("addresses of customer %d: %w", id, err)
	}
	return list, nil
}

func addresses(ctx context.Context, q db.Querier, id int64) ([]Address, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, line1, line2, city, region, postal_code, country
		FROM customer_addresses WHERE customer_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []Address{}
	for rows.Next() {
		var a Address
		if err := rows.Scan(&a.ID, &a.Name, &a.Line1, &a.Line2, &a.City, &a.Region, &a.PostalCode, &a.Country); err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, rows.Err()
}

// AddAddress saves a for customer id and returns it with its ID, its
// fields trimmed and its country in upper case. A field that is missing or
// not acceptable is a *FieldError (ErrInvalidAddress); a customer who has
// MaxAddresses already gets ErrTooManyAddresses, and one that does not
// exist ErrNotFound.
func (s *Service) AddAddress(ctx context.Context, id int64, a Address) (Address, error) {
	a, err := checkAddress(a)
	if err != nil {
		return Address{}, err
	}
	now := db.Time(s.now())
	err = s.db.Tx(ctx, func(tx db.Querier) error {
		// Lock the customer's row first (a write that changes nothing),
		// so that two concurrent additions on PostgreSQL count one after
		// the other and cannot both pass the limit.
		res, err := tx.ExecContext(ctx, "UPDATE customers SET updated_at = updated_at WHERE id = $1", id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		var count int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM customer_addresses WHERE customer_id = $1", id).Scan(&count); err != nil {
			return err
		}
		if count >= MaxAddresses {
			return ErrTooManyAddresses
		}
		return tx.QueryRowContext(ctx, `INSERT INTO customer_addresses (customer_id, name, line1, line2, city, region, postal_code, country, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			id, a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country, now).Scan(&a.ID)
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrTooManyAddresses):
		return Address{}, err
	case err != nil:
		return Address{}, fmt.Errorf("add address for customer %d: %w", id, err)
	}
	return a, nil
}

// DeleteAddress deletes customer id's address addressID. An address that
// does not exist or is another customer's is ErrNotFound, alike.
func (s *Service) DeleteAddress(ctx context.Context, id, addressID int64) error {
	var n int64
	err := s.db.Tx(ctx, func(tx db.Querier) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM customer_addresses WHERE id = $1 AND customer_id = $2", addressID, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete address %d of customer %d: %w", addressID, id, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Address field limits, in characters.
const (
	maxAddressLine = 200
	maxAddressWord = 100
	maxPostalCode  = 20
)

// checkAddress trims a's fields and checks them.
func checkAddress(a Address) (Address, error) {
	fields := []struct {
		name     string
		v        *string
		required bool
		max      int
	}{
		{"name", &a.Name, true, maxAddressWord},
		{"line1", &a.Line1, true, maxAddressLine},
		{"line2", &a.Line2, false, maxAddressLine},
		{"city", &a.City, true, maxAddressWord},
		{"region", &a.Region, false, maxAddressWord},
		{"postal_code", &a.PostalCode, false, maxPostalCode},
		{"country", &a.Country, true, 2},
	}
	for _, f := range fields {
		bad := func(format string, args ...any) error { return fieldError(f.name, ErrInvalidAddress, format, args...) }
		if len(*f.v) > 4*f.max+1024 {
			return Address{}, bad("must be at most %d characters long", f.max)
		}
		*f.v = strings.TrimSpace(*f.v)
		switch v := *f.v; {
		case v == "" && f.required:
			return Address{}, bad("must not be empty")
		case utf8.RuneCountInString(v) > f.max:
			return Address{}, bad("must be at most %d characters long", f.max)
		case !utf8.ValidString(v):
			return Address{}, bad("must be text")
		case strings.ContainsFunc(v, breaksLine):
			return Address{}, bad("must be on one line, without control characters")
		}
	}
	a.Country = strings.ToUpper(a.Country)
	if len(a.Country) != 2 || a.Country[0] < 'A' || a.Country[0] > 'Z' || a.Country[1] < 'A' || a.Country[1] > 'Z' {
		return Address{}, fieldError("country", ErrInvalidAddress, "must be a two-letter country code such as US")
	}
	a.ID = 0
	return a, nil
}
