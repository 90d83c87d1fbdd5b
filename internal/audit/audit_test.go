package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"mistore/internal/audit"
	"mistore/internal/db"
	"mistore/internal/db/dbtest"
)

func TestRecordListAndExport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ada := audit.Actor{Kind: audit.KindStaff, ID: 7, Name: "ada@example.com", IP: "192.0.2.1"}
		key := audit.Actor{Kind: audit.KindAPIKey, ID: 3, Name: "erp (msk_ab12)"}
		type price struct {
			SKU    string `json:"sku"`
			Amount int64  `json:"amount"`
		}
		steps := []struct {
			who             audit.Actor
			action, subject string
			before, after   any
		}{
			{ada, "product.create", "product:band-9", nil, map[string]string{"name": "Band 9"}},
			{ada, "price.set", "price:BAND9@us", price{"BAND9", 3999}, price{"BAND9", 3499}},
			{key, "inventory.adjust", "stock:BAND9@us-east", map[string]int{"on_hand": 5}, map[string]int{"on_hand": 50}},
			{ada, "order.refund", "order:US-100001", nil, map[string]any{"amount": 500, "reason": "=HYPERLINK(\"x\")"}},
		}
		for _, s := range steps {
			err := d.Tx(ctx, func(tx db.Querier) error {
				return audit.Record(audit.WithActor(ctx, s.who), tx, s.action, s.subject, s.before, s.after)
			})
			if err != nil {
				t.Fatal(err)
			}
		}

		all, err := audit.List(ctx, d.Reader(), audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 4 || all[0].Action != "order.refund" || all[3].Action != "product.create" {
			t.Fatalf("want 4 entries newest first, got %+v", all)
		}
		if all[3].Before != nil || string(all[3].After) != `{"name":"Band 9"}` {
			t.Errorf("creation: before %q after %q", all[3].Before, all[3].After)
		}
		if got := all[2]; string(got.Before) != `{"sku":"BAND9","amount":3999}` || got.Actor != ada {
			t.Errorf("price entry: %+v", got)
		}

		for _, c := range []struct {
			f    audit.Filter
			want int
		}{
			{audit.Filter{Actor: "ada@example.com"}, 3},
			{audit.Filter{Actor: "apikey:erp (msk_ab12)"}, 1},
			{audit.Filter{Actor: "staff:erp (msk_ab12)"}, 0},
			{audit.Filter{Actor: "erp"}, 1},
			{audit.Filter{Actor: "apikey:erp"}, 1},
			{audit.Filter{Actor: "er"}, 0},
			{audit.Filter{Actor: "ada"}, 0},
			{audit.Filter{Action: "order."}, 1},
			{audit.Filter{Action: "price.set"}, 1},
			{audit.Filter{Subject: "product:"}, 1},
			{audit.Filter{Since: time.Now().Add(time.Hour)}, 0},
			{audit.Filter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}, 4},
			{audit.Filter{Before: all[1].ID}, 2},
			{audit.Filter{Limit: 1}, 1},
		} {
			got, err := audit.List(ctx, d.Reader(), c.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.want {
				t.Errorf("filter %+v: %d entries, want %d", c.f, len(got), c.want)
			}
		}

		var buf bytes.Buffer
		if err := audit.WriteCSV(ctx, d.Reader(), audit.Filter{Actor: "ada@example.com"}, &buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4 || recs[0][0] != "id" || recs[1][6] != "product.create" || recs[3][6] != "order.refund" {
			t.Fatalf("csv: %q", recs)
		}
		if after := recs[3][9]; !strings.HasPrefix(after, "{") || !strings.Contains(after, "=HYPERLINK") {
			t.Errorf("csv after cell %q", after)
		}
	})
}

func TestAppendOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := audit.WithActor(context.Background(), audit.Actor{Kind: audit.KindCLI, Name: "root"})
		if err := d.Tx(ctx, func(tx db.Querier) error {
			return audit.Record(ctx, tx, "staff.create", "staff:1", nil, map[string]string{"role": "owner"})
		}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"UPDATE audit_log SET actor_name = 'someone else'", "DELETE FROM audit_log"} {
			err := d.Tx(ctx, func(tx db.Querier) error {
				_, err := tx.ExecContext(ctx, q)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err %v, want the append-only refusal", q, err)
			}
		}
		got, err := audit.List(ctx, d.Reader(), audit.Filter{})
		if err != nil || len(got) != 1 || got[0].Actor.Name != "root" {
			t.Fatalf("log changed: %+v %v", got, err)
		}
	})
}

func TestRecordWithoutActorRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		err := d.Tx(ctx, func(tx db.Querier) error {
			return audit.Record(ctx, tx, "product.update", "product:x", nil, nil)
		})
		if !errors.Is(err, audit.ErrNoActor) {
			t.Fatalf("err %v, want ErrNoActor", err)
		}
	})
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{"=1+2": "'=1+2", "+1": "'+1", "-1": "'-1", "@x": "'@x", "plain": "plain", "": ""} {
		if got := audit.SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}
