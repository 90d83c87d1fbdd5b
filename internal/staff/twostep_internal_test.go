package staff

import (
	"strings"
	"testing"
	"time"
)

// RFC 4226, appendix D: HOTP of the key "12345678901234567890" at
// counters 0 to 9, six digits.
func TestHOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := hotp(key, uint64(i)); got != w {
			t.Errorf("hotp(counter %d) = %s, want %s", i, got, w)
		}
	}
}

// RFC 6238, appendix B, SHA-1 rows: the eight-digit codes' last six
// digits are the six-digit codes.
func TestTOTPVectors(t *testing.T) {
	key := base32Key.EncodeToString([]byte("12345678901234567890"))
	for _, c := range []struct {
		unix int64
		want string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		got, err := TOTPCode(key, time.Unix(c.unix, 0))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want[2:] {
			t.Errorf("TOTPCode at %d = %s, want %s", c.unix, got, c.want[2:])
		}
	}
}

func TestMatchTOTPWindow(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Unix(1_800_000_015, 0)
	step := totpStep(now)
	for d := int64(-3); d <= 3; d++ {
		got := matchTOTP(key, hotp(key, uint64(step+d)), now)
		want := int64(0)
		if d >= -totpSkew && d <= totpSkew {
			want = step + d
		}
		if got != want {
			t.Errorf("code of step %+d: matched %d, want %d", d, got, want)
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	for _, c := range []struct {
		in       string
		out      string
		totp, ok bool
	}{
		{"123456", "123456", true, true},
		{" 123 456 ", "123456", true, true},
		{"123-456", "123456", true, true},
		{"abcde-fghij", "abcdefghij", false, true},
		{"ABCDE FGHIJ", "abcdefghij", false, true},
		{"12345", "", false, false},
		{"1234567", "", false, false},
		{"abcde-fghi1", "", false, false}, // 1 is not base32
		{"<script>", "", false, false},
		{"１２３４５６", "", false, false}, // fullwidth digits
		{strings.Repeat("1", 100), "", false, false},
		{"", "", false, false},
	} {
		out, totp, ok := normalizeCode(c.in)
		if out != c.out || totp != c.totp || ok != c.ok {
			t.Errorf("normalizeCode(%q) = %q, %v, %v; want %q, %v, %v", c.in, out, totp, ok, c.out, c.totp, c.ok)
		}
	}
}

func TestRecoveryCodeShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		n, totp, ok := normalizeCode(c)
		if !ok || totp || len(c) != 11 || c[5] != '-' {
			t.Fatalf("recovery code %q: normalized %q, %v, %v", c, n, totp, ok)
		}
		if seen[n] {
			t.Fatalf("recovery code %q twice in 200", c)
		}
		seen[n] = true
	}
}

// FuzzNormalizeCode: whatever is typed, an accepted code is six digits or
// ten base32 characters, and normalizing it again changes nothing.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"123456", "abcde-fghij", " 1 2 3 4 5 6", "ÄÖÜ", "\x00", "12345\u200b6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, totp, ok := normalizeCode(in)
		if !ok {
			if out != "" || totp {
				t.Fatalf("refused %q but returned %q, %v", in, out, totp)
			}
			return
		}
		switch {
		case totp && (len(out) != TOTPDigits || strings.Trim(out, "0123456789") != ""):
			t.Fatalf("%q gave authenticator code %q", in, out)
		case !totp && (len(out) != 10 || strings.Trim(out, "abcdefghijklmnopqrstuvwxyz234567") != ""):
			t.Fatalf("%q gave recovery code %q", in, out)
		}
		again, totp2, ok2 := normalizeCode(out)
		if again != out || totp2 != totp || !ok2 {
			t.Fatalf("normalizing %q again gave %q, %v, %v", out, again, totp2, ok2)
		}
	})
}
