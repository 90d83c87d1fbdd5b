package order_test

import (
	"testing"

	"mistore/internal/order"
)

func TestTrackingURL(t *testing.T) {
	for _, tc := range []struct{ carrier, number, want string }{
		{"UPS", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
		{" ups ", " 1Z999AA10123456784 ", "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
		{"USPS", "9400 1000 0000 0000 0000 00", "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400+1000+0000+0000+0000+00"},
		{"United States Postal Service", "9400", "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400"},
		{"Fed-Ex", "123456789012", "https://www.fedex.com/fedextrack/?trknbr=123456789012"},
		{"DHL Express", "1234567890", "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=1234567890"},
		// A number is a query value, whatever staff typed.
		{"UPS", "1Z&x=<script>", "https://www.ups.com/track?tracknum=1Z%26x%3D%3Cscript%3E"},
		{"Acme Couriers", "A1", ""},
		{"UPS", "  ", ""},
		{"", "1Z", ""},
	} {
		if got := order.TrackingURL(tc.carrier, tc.number); got != tc.want {
			t.Errorf("TrackingURL(%q, %q) = %q, want %q", tc.carrier, tc.number, got, tc.want)
		}
	}
}
