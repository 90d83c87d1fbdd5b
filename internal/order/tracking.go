package order

import (
	"net/url"
	"strings"
	"unicode"
)

// trackingPages are the public tracking pages of the carriers the store
// knows, by the carrier's name folded (lower case, letters and digits
// only), each to be followed by the tracking number as a query value. A
// carrier not here has no link; its tracking number is still shown.
var trackingPages = map[string]string{
	"ups":                       "https://www.ups.com/track?tracknum=",
	"usps":                      "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
	"unitedstatespostalservice": "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
	"fedex":                     "https://www.fedex.com/fedextrack/?trknbr=",
	"dhl":                       "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=",
	"dhlexpress":                "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=",
}

// TrackingURL is the carrier's public page that follows the parcel with
// tracking number number, or "" for a carrier the store does not know.
// Staff type the carrier's name as they like ("UPS", "Fed-Ex", "DHL
// Express"), so it is matched folded.
func TrackingURL(carrier, number string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(carrier) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	page, ok := trackingPages[b.String()]
	number = strings.TrimSpace(number)
	if !ok || number == "" {
		return ""
	}
	return page + url.QueryEscape(number)
}

// TrackingURL is the page that follows sh, or "" (see TrackingURL).
func (sh Shipment) TrackingURL() string { return TrackingURL(sh.Carrier, sh.TrackingNumber) }
