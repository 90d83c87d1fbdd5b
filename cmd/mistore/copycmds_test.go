package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/catalog"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/inventory"
	"mistore/internal/media"
	"mistore/internal/staff"
	"mistore/internal/storecopy"
)

// busyStore is a demo store on SQLite with some life in it: orders placed
// through the API and written straight in, a customer who signed up and
// in, a waitlist entry, and the demo's flash sale and community. It
// returns the store's file, the orders' JSON as the store served them,
// and the customer's session token.
func busyStore(t *testing.T) (path string, orders map[string]string, session string) {
	t.Helper()
	path = dbtest.DSN(t, db.SQLite)
	m := startStore(t, path)
	base := m.URL()
	orders = map[string]string{}
	tokens := map[string]string{}
	for range 3 {
		n, tok, _ := placeOrder(t, base)
		tokens[n] = tok
	}
	if st, b := call(t, "POST", base+"/api/v1/customers", `{"email":"grace@example.com","password":"correct horse battery","name":"Grace"}`); st != 201 {
		t.Fatalf("register: %d %v", st, b)
	}
	st, b := call(t, "POST", base+"/api/v1/sessions", `{"email":"grace@example.com","password":"correct horse battery"}`)
	if st != 200 {
		t.Fatalf("sign in: %d %v", st, b)
	}
	session = b["token"].(string)
	if _, err := m.shop.waitlist.Join(context.Background(), "us", "mistore-phone-14", "lin@example.com"); err != nil {
		t.Fatalf("waitlist: %v", err)
	}
	for n, tok := range tokens {
		orders[n] = getBody(t, base+"/api/v1/orders/"+n, "X-Order-Token", tok) + "\x00" + tok
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// Paid and pending orders in all three currencies, straight in.
	placeOrders(t, path, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC), 20, "us", "cn", "in")
	return path, orders, session
}

// twoStepOwner makes owner@example.com, with two-step sign-in on, in the
// store at dsn, and returns the authenticator key.
func twoStepOwner(t *testing.T, dsn string) string {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
	members := staff.NewService(d, nil)
	m, err := members.Create(ctx, "owner@example.com", "Owner", staff.RoleOwner, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	setup, err := members.SetUpTwoStep(ctx, m.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := staff.TOTPCode(setup.Key, time.Now())
	if _, err := members.ConfirmTwoStep(ctx, m.ID, code); err != nil {
		t.Fatal(err)
	}
	return setup.Key
}

// testJPEG is a w×h JPEG of colour stripes.
func testJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// productPhoto gives a product of the store at dsn a photo and returns
// the address of its narrowest rendition and that rendition's bytes.
func productPhoto(t *testing.T, dsn string) (path string, data []byte) {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pic, err := media.Process(testJPEG(t, 600, 400))
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	p, err := c.PutImage(ctx, "mistore-band-8", catalog.ImageInput{Name: "front", Alt: "The band"}, pic)
	if err != nil {
		t.Fatal(err)
	}
	return "/media/" + p.Photos[0].File + "/400", pic.Renditions[0].Data
}

func getBody(t *testing.T, u string, hdr ...string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b)
}

// countRows counts a table's rows in the store at dsn.
// disputeOrder records an open payment dispute (with the date to answer
// by) against the first order of the store at dsn, as a provider's
// webhook would.
func disputeOrder(t *testing.T, dsn string) {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(context.Background(), `INSERT INTO order_disputes (order_id, provider, dispute_ref, amount, currency, reason, status, due_by, created_at, updated_at)
		SELECT id, 'test', 'dp_copy', 100, currency, 'fraudulent', 'open', created_at, created_at, created_at FROM orders ORDER BY id LIMIT 1`); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, dsn, table string) int {
	t.Helper()
	d, err := db.Open(context.Background(), dsn, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestCopyToPostgres(t *testing.T) {
	target := dbtest.DSN(t, db.Postgres)
	src, orders, session := busyStore(t)
	key := twoStepOwner(t, src)
	photoPath, photoData := productPhoto(t, src)
	disputeOrder(t, src)
	code, out, errOut := runCLI(t, nil, "copy", "--from", src, "--to", target)
	if code != 0 {
		t.Fatalf("copy: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"check passed", "orders", "order_lines", "flash_sales", "comments", "waitlist_entries", "customers",
		"orders.total", "order_disputes", "USD", "CNY", "INR", "sessions not copied (1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if countRows(t, target, "customer_sessions") != 0 {
		t.Error("sessions were copied without --sessions")
	}
	if countRows(t, target, "order_disputes") != 1 {
		t.Error("the payment dispute was not copied")
	}
	// The owner's two-step key came along byte for byte: the code made
	// from it passes on PostgreSQL.
	if n := countRows(t, target, "staff_recovery_codes"); n != staff.RecoveryCodeCount {
		t.Errorf("%d recovery codes copied, want %d", n, staff.RecoveryCodeCount)
	}
	func() {
		d, err := db.Open(context.Background(), target, db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		members := staff.NewService(d, nil)
		owner, err := members.ByEmail(context.Background(), "owner@example.com")
		if err != nil {
			t.Fatal(err)
		}
		code, _ := staff.TOTPCode(key, time.Now().Add(staff.TOTPStep))
		ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "test"})
		if err := members.CheckCode(ctx, owner.ID, code); err != nil {
			t.Errorf("the copied two-step key: %v", err)
		}
	}()

	// The store on PostgreSQL serves the same orders, to the same tokens.
	m := startStore(t, target)
	for n, v := range orders {
		want, tok, _ := strings.Cut(v, "\x00")
		if got := getBody(t, m.URL()+"/api/v1/orders/"+n, "X-Order-Token", tok); got != want {
			t.Errorf("order %s on PostgreSQL:\n%s\nwant (SQLite):\n%s", n, got, want)
		}
	}
	// The session did not come along: Grace signs in again, with the
	// password she had.
	if st, _ := call(t, "GET", m.URL()+"/api/v1/me", "", "Authorization", "Bearer "+session); st != 401 {
		t.Errorf("old session on the new store: %d, want 401", st)
	}
	if st, b := call(t, "POST", m.URL()+"/api/v1/sessions", `{"email":"grace@example.com","password":"correct horse battery"}`); st != 200 {
		t.Errorf("sign in on the new store: %d %v", st, b)
	}
	// A product photo, a BLOB on SQLite and bytea on PostgreSQL, came
	// along byte for byte.
	if got := getBody(t, m.URL()+photoPath); got != string(photoData) {
		t.Errorf("the photo on PostgreSQL is %d bytes, not the %d it was", len(got), len(photoData))
	}
	// New rows get new ids: the identity sequences follow the copied ids.
	placeOrder(t, m.URL())
	for _, page := range []string{"/us/", "/us/flash-sales", "/api/v1/markets/us/products/mistore-band-8/comments"} {
		getBody(t, m.URL()+page)
	}
}

func TestCopySessionsAndForce(t *testing.T) {
	target := dbtest.DSN(t, db.Postgres)
	src, _, session := busyStore(t)
	if code, out, errOut := runCLI(t, nil, "copy", "--from", src, "--to", target, "--sessions"); code != 0 {
		t.Fatalf("copy: exit %d\n%s\n%s", code, out, errOut)
	}
	// A second copy into the now full store is refused, and says why.
	code, out, errOut := runCLI(t, nil, "copy", "--from", src, "--to", target)
	if code != 1 || !strings.Contains(errOut, "already holds store data") || !strings.Contains(errOut, "--force") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("copy into a full store: exit %d\n%s\n%s", code, out, errOut)
	}
	// --force replaces it, in one go.
	if code, out, errOut := runCLI(t, nil, "copy", "--from", src, "--to", target, "--force", "--sessions"); code != 0 || !strings.Contains(out, "check passed") {
		t.Fatalf("copy --force: exit %d\n%s\n%s", code, out, errOut)
	}
	m := startStore(t, target)
	if st, b := call(t, "GET", m.URL()+"/api/v1/me", "", "Authorization", "Bearer "+session); st != 200 {
		t.Errorf("session copied with --sessions: %d %v", st, b)
	}
}

// TestCopyInterrupted cancels a copy halfway: the target keeps no store
// data, and a copy run afterwards succeeds.
func TestCopyInterrupted(t *testing.T) {
	target := dbtest.DSN(t, db.Postgres)
	src, _, _ := busyStore(t)
	ctx := context.Background()
	s, err := db.Open(ctx, src, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := db.Open(ctx, target, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cancelledAt int64
	_, err = storecopy.Copy(cctx, s, d, storecopy.Options{Progress: func(done, total int64) {
		if cancelledAt == 0 && done > 0 && done < total {
			cancelledAt = done
			cancel()
		}
	}})
	if cancelledAt == 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: cancelled at %d, err %v", cancelledAt, err)
	}
	for _, table := range []string{"products", "orders", "customers", "comments", "flash_sales"} {
		if n := countRows(t, target, table); n != 0 {
			t.Errorf("after an interrupted copy the target has %d %s", n, table)
		}
	}
	if code, out, errOut := runCLI(t, nil, "copy", "--from", src, "--to", target); code != 0 {
		t.Fatalf("copy after the interruption: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestCopyErrors(t *testing.T) {
	pg := dbtest.PostgresURL(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.db")
	src := dbtest.DSN(t, db.SQLite)
	if code, out, errOut := runCLI(t, nil, "migrate", "--db", src); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errOut)
	}
	noRights := noRightsURL(t, pg)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing source", []string{"--from", missing, "--to", pg}, 1, "does not exist"},
		{"no target", []string{"--from", src}, 2, ""},
		{"not postgres", []string{"--from", src, "--to", "mysql://x"}, 2, ""},
		{"unreachable", []string{"--from", src, "--to", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"}, 1, "127.0.0.1"},
		{"no such database", []string{"--from", src, "--to", withDB(t, pg, "mistore_no_such_db")}, 1, "does not exist"},
		{"no rights", []string{"--from", src, "--to", noRights}, 1, "right to create tables"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"copy"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s%s", code, c.code, c.want, out, errOut)
			}
			if c.code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("want one line:\n%s", errOut)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("copy made the missing source file")
	}
}

func withDB(t *testing.T, base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// noRightsURL makes a role that may use a schema but not create tables
// in it, and returns the URL that connects as that role.
func noRightsURL(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	suffix := fmt.Sprint(time.Now().UnixNano())
	role, schema := "mistore_ro_"+suffix, "ro_"+suffix
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"CREATE SCHEMA " + schema,
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
		a.Exec("DROP OWNED BY " + role)
		a.Exec("DROP ROLE " + role)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
