package db

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// keyEncoding is base32 with its characters in ASCII order (RFC 4648's
// extended hex alphabet, lower case), so that keys sort as their bytes do.
var keyEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// KeyLen is the length of a key made by NewKey.
const KeyLen = 26

// NewKey returns a new unique key of KeyLen lower-case letters and digits:
// the time in milliseconds (6 bytes) and then 10 random bytes (80 bits).
// Keys made at about the same time sort next to each other, so rows
// inserted together share their index pages instead of each touching a
// random one: on SQLite every page a commit touches is written to the log
// again, and on PostgreSQL to its WAL. The random part keeps a key
// unguessable; what it reveals is when it was made.
func NewKey() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	rand.Read(b[6:]) // never fails: crypto/rand crashes the program instead
	return keyEncoding.EncodeToString(b[:])
}
