package cart

import (
	"database/sql"
	"strings"
	"testing"

	"mistore/internal/catalog"
	"mistore/internal/locale"
	"mistore/internal/market"
)

// TestNoticesTranslated: each notice a cart tells reads in English as the
// API's sentence always has, and has a Chinese translation.
func TestNoticesTranslated(t *testing.T) {
	cat, err := locale.Load()
	if err != nil {
		t.Fatal(err)
	}
	zh := cat.Lang("zh-CN")
	m := market.Market{Code: "cn", Name: "China", Currency: "CNY"}
	seen := seenLine{sku: "B", quantity: 3, seenPrice: sql.NullInt64{Int64: 100, Valid: true}, seenState: "available"}
	line := LineView{SKU: "B", FullName: "Mistore Band 8 (Black)", State: catalog.OutOfStock}
	for _, tc := range []struct {
		name  string
		lv    LineView
		price int64
		state string
		stock int
		want  []string
	}{
		{"price and one left", line, 120, "out_of_stock:1", 1, []string{
			"The price of Mistore Band 8 (Black) changed from ¥1.00 to ¥1.20.",
			"Only 1 of Mistore Band 8 (Black) is left; lower the quantity to 1 to order it."}},
		{"two left", line, 100, "out_of_stock:2", 2, []string{
			"Only 2 of Mistore Band 8 (Black) are left; lower the quantity to 2 to order it."}},
		{"sold out", line, 100, "out_of_stock", 0, []string{
			"Mistore Band 8 (Black) is now out of stock; it stays in your cart but cannot be ordered until it is back."}},
	} {
		got := notices(m, tc.lv, seen, sql.NullInt64{Int64: tc.price, Valid: true}, tc.state, tc.stock)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d notices, want %d", tc.name, len(got), len(tc.want))
		}
		for i, n := range got {
			if n.String() != tc.want[i] {
				t.Errorf("%s: %q, want %q", tc.name, n.String(), tc.want[i])
			}
			zh.Say(n)
		}
	}
	band := locale.Name{Default: "Mistore Band 8", In: map[string]string{"zh-Hans": "Mistore 手环 8"}}
	for _, err := range []error{
		refuse(catalog.Availability{State: catalog.OutOfStock}, band, 1, 1),
		refuse(catalog.Availability{State: catalog.OutOfStock}, band, 3, 0),
		refuse(catalog.Availability{State: catalog.OutOfStock}, band, 0, 2),
		checkedOut(), lineNotFound("X"), errNotFound(),
	} {
		msg, ok := Message(err)
		if !ok || msg.String() != err.Error() {
			t.Errorf("%v: message %q", err, msg.String())
		}
		zh.Say(msg)
	}
	if got := refuse(catalog.Availability{State: catalog.OutOfStock}, band, 1, 1).Error(); got != "Only 1 of Mistore Band 8 is left. Your cart already has 1." {
		t.Errorf("one left: %q", got)
	}
	// A page in Chinese names the product as the shop wrote it in Chinese.
	if msg, _ := Message(refuse(catalog.Availability{State: catalog.OutOfStock}, band, 0, 0)); !strings.Contains(zh.Say(msg), "Mistore 手环 8") {
		t.Errorf("out of stock in Chinese: %q", zh.Say(msg))
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("untranslated: %q", m)
	}
}
