package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"mistore/internal/db"
	"mistore/internal/db/dbtest"
	"mistore/internal/notify"
)

// TestTrackingLinks checks that a parcel sent with a carrier the store
// knows can be followed from the order page, the shipping email and the
// back office, and that one with a carrier it does not know shows its
// tracking number without a link.
func TestTrackingLinks(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		support := s.adminKey("support")
		const ups = "https://www.ups.com/track?tracknum=1Z999AA10123456784"
		for _, tc := range []struct{ carrier, tracking, link string }{
			{"UPS", "1Z999AA10123456784", ups},
			{"Acme Couriers", "AC-42", ""},
		} {
			number, token, _ := s.paidOrder(1)
			if st, out, _ := s.do("GET", "/api/v1/orders/"+number, "", "X-Order-Token", token); st != http.StatusOK || strings.Contains(out, `"parcels"`) {
				t.Errorf("%s: the order API before shipping: %d %s", tc.carrier, st, out)
			}
			body := `{"carrier":"` + tc.carrier + `","tracking_number":"` + tc.tracking + `"}`
			if st, out, _ := s.do("POST", "/api/v1/admin/orders/"+number+"/fulfilments", body, bearer(support)...); st != http.StatusCreated {
				t.Fatalf("fulfil: %d %s", st, out)
			}
			s.runJobs()

			// The back office's API.
			st, out, _ := s.do("GET", "/api/v1/admin/orders/"+number, "", bearer(support)...)
			if st != http.StatusOK || strings.Contains(out, `"tracking_url"`) != (tc.link != "") ||
				tc.link != "" && !strings.Contains(out, `"tracking_url":"`+tc.link+`"`) {
				t.Errorf("%s: admin order: %d %s", tc.carrier, st, out)
			}
			// The order API.
			st, out, _ = s.do("GET", "/api/v1/orders/"+number, "", "X-Order-Token", token)
			var api struct {
				Parcels []struct {
					Carrier        string `json:"carrier"`
					TrackingNumber string `json:"tracking_number"`
					TrackingURL    string `json:"tracking_url"`
					ShippedAt      string `json:"shipped_at"`
				} `json:"parcels"`
			}
			if err := json.Unmarshal([]byte(out), &api); err != nil || st != http.StatusOK || len(api.Parcels) != 1 ||
				api.Parcels[0].Carrier != tc.carrier || api.Parcels[0].TrackingNumber != tc.tracking || api.Parcels[0].TrackingURL != tc.link || api.Parcels[0].ShippedAt == "" {
				t.Errorf("%s: the order API's parcels: %d %s", tc.carrier, st, out)
			}
			// The order page.
			st, page, _ := s.do("GET", "/us/orders/"+number+"?token="+url.QueryEscape(token), "")
			if st != http.StatusOK || !strings.Contains(page, "Parcels") || !strings.Contains(page, "Tracking number "+tc.tracking) {
				t.Errorf("%s: the order page does not show the parcel: %d", tc.carrier, st)
			}
			if has := strings.Contains(page, "Track your parcel"); has != (tc.link != "") || tc.link != "" && !strings.Contains(page, `href="`+tc.link+`"`) {
				t.Errorf("%s: the order page's tracking link: %v, want %q", tc.carrier, has, tc.link)
			}
			// The shipping email.
			var text string
			if err := d.Read.QueryRow(`SELECT text_body FROM emails WHERE kind = $1 AND unique_key = $2`,
				notify.KindOrderShipped, notify.OrderShippedKey(number)).Scan(&text); err != nil {
				t.Fatalf("%s: shipping email: %v", tc.carrier, err)
			}
			if has := strings.Contains(text, "Follow the parcel"); has != (tc.link != "") || tc.link != "" && !strings.Contains(text, tc.link) {
				t.Errorf("%s: the shipping email's tracking link:\n%s", tc.carrier, text)
			}
		}
	})
}
