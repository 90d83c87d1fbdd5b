package customer

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are the cost parameters of argon2id. They are written into every
// hash, so raising them later leaves old hashes verifiable, and NeedsRehash
// tells which ones to upgrade at the next sign-in.
type Params struct {
	// Memory is the memory one hash takes, in KiB.
	Memory uint32
	// Time is the number of passes over that memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
}

// DefaultParams are OWASP's recommended argon2id settings (19 MiB, two
// passes, one lane), which take some tens of milliseconds per hash.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1}

// Password length bounds, in characters (runes). Any character counts,
// spaces and emoji included; nothing is trimmed or truncated. The upper
// bound keeps a request from making the server hash megabytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

const (
	saltLen = 16
	keyLen  = 32
	// Limits on the parameters a stored hash may ask for, so that a
	// corrupt or hostile row cannot make a sign-in take gigabytes or
	// minutes.
	maxMemory = 1 << 21 // KiB: 2 GiB
	maxTime   = 64
)

// errMalformedHash means a stored string is not an argon2id hash this
// package can read.
var errMalformedHash = errors.New("customer: malformed password hash")

// checkPassword reports whether password has an acceptable length. It
// looks at the byte length first, so an enormous input is refused without
// being read: no character takes more than utf8.UTFMax bytes.
func checkPassword(field, password string) error {
	if len(password) > MaxPasswordLen*utf8.UTFMax || len(password) < MinPasswordLen {
		return passwordLengthError(field)
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || n > MaxPasswordLen {
		return passwordLengthError(field)
	}
	return nil
}

func passwordLengthError(field string) error {
	return fieldError(field, ErrPasswordLength, "must be %d to %d characters long", MinPasswordLen, MaxPasswordLen)
}

// HashPassword hashes password with argon2id under p and a fresh random
// salt, in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with the salt (16 bytes) and key (32 bytes) in unpadded standard base64.
// It does not check the password's length; the Service does.
func HashPassword(password string, p Params) (string, error) {
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 {
		return "", fmt.Errorf("customer: hash password: unusable argon2id parameters %+v", p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("customer: hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a hash made by
// HashPassword under any parameters: they are read from the string. The
// keys are compared in constant time. A string that is not such a hash is
// an error, never a match.
func VerifyPassword(encoded, password string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with weaker settings than
// p (less memory, fewer passes or lanes, a shorter salt or key), or cannot
// be read at all, so that the password should be hashed again the next
// time it is known.
func NeedsRehash(encoded string, p Params) bool {
	have, salt, key, err := decodeHash(encoded)
	if err != nil {
		return true
	}
	return have.Memory < p.Memory || have.Time < p.Time || have.Threads < p.Threads || len(salt) < saltLen || len(key) < keyLen
}

// decodeHash takes a PHC argon2id string apart, refusing anything it
// does not fully understand.
func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, errMalformedHash
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return Params{}, nil, nil, errMalformedHash
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		k, v, ok := strings.Cut(fields[i], "=")
		if !ok || k != name {
			return Params{}, nil, nil, errMalformedHash
		}
		if vals[i], err = strconv.ParseUint(v, 10, 32); err != nil {
			return Params{}, nil, nil, errMalformedHash
		}
	}
	if vals[2] < 1 || vals[2] > 255 || vals[0] < 8*vals[2] || vals[0] > maxMemory || vals[1] < 1 || vals[1] > maxTime {
		return Params{}, nil, nil, errMalformedHash
	}
	p = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	enc := base64.RawStdEncoding.Strict()
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return Params{}, nil, nil, errMalformedHash
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return Params{}, nil, nil, errMalformedHash
	}
	return p, salt, key, nil
}
