package checkout

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"mistore/internal/locale"
	"mistore/internal/order"
)

// FieldError is a problem with one field of a checkout request.
type FieldError struct {
	Field string
	// Msg is the problem as the API words it after the field's name:
	// "is required".
	Msg string
	// Why is the problem as a sentence of its own ("Is required."), for
	// pages to say in their reader's language next to the field.
	Why locale.Msg
}

// fieldError makes a FieldError from the sentence a page shows; the API's
// Msg is that sentence in English, uncapitalised and without its stop.
func fieldError(field, format string, args ...any) *FieldError {
	why := locale.M(format, args...)
	msg := strings.TrimSuffix(why.String(), ".")
	if msg != "" {
		msg = strings.ToLower(msg[:1]) + msg[1:]
	}
	return &FieldError{Field: field, Msg: msg, Why: why}
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Sentence is the problem as the API says it: "The email must be …" when
// Msg reads on from the field's name, else Why's English sentence ("This
// store ships to US only."), which says itself what it is about.
func (e *FieldError) Sentence() string {
	if first, _, _ := strings.Cut(e.Msg, " "); first == "is" || first == "must" {
		return "The " + e.Field + " " + e.Msg + "."
	}
	if s := e.Why.String(); s != "" {
		return s
	}
	return e.Field + ": " + e.Msg + "."
}

// usStates are the destinations the US store ships to: the states and DC.
var usStates = map[string]string{
	"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
	"CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
	"HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
	"KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
	"MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
	"NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
	"NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
	"OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
	"TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
	"WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}

// USStates returns the US state codes and names, for forms.
func USStates() map[string]string { return usStates }

// postalCodes are the postal code shapes of each country the store ships to.
var postalCodes = map[string]*regexp.Regexp{
	"US": regexp.MustCompile(`^\d{5}(-\d{4})?$`),
	"CN": regexp.MustCompile(`^\d{6}$`),
	"IN": regexp.MustCompile(`^[1-9]\d{5}$`),
}

// postalExamples are messages so that "6 digits" can be said in Chinese.
var postalExamples = map[string]locale.Msg{"US": locale.M("12345 or 12345-6789"), "CN": locale.M("6 digits, e.g. 200000"), "IN": locale.M("6 digits, e.g. 560001")}

// NormalizeAddress trims a as typed and checks it for a market whose
// countries are countries: it returns the first problem as a *FieldError
// named like the API field (shipping_address.postal_code).
func NormalizeAddress(a order.Address, countries []string) (order.Address, error) {
	a, problems := AddressProblems(a, countries)
	if len(problems) > 0 {
		return a, problems[0]
	}
	return a, nil
}

// AddressProblems is NormalizeAddress going on past the first problem: a
// form then marks every field that needs changing at once. The problems
// come country first, then in the order of the checks below.
func AddressProblems(a order.Address, countries []string) (order.Address, []*FieldError) {
	trim := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	a.Name, a.Line1, a.Line2, a.City = trim(a.Name), trim(a.Line1), trim(a.Line2), trim(a.City)
	a.Region, a.PostalCode = strings.ToUpper(trim(a.Region)), strings.ToUpper(trim(a.PostalCode))
	a.Country = strings.ToUpper(trim(a.Country))
	if a.Country == "" && len(countries) == 1 {
		a.Country = countries[0]
	}
	var out []*FieldError
	f := func(field, format string, args ...any) {
		out = append(out, fieldError("shipping_address."+field, format, args...))
	}
	if !slices.Contains(countries, a.Country) {
		// The other checks depend on the country.
		f("country", "This store ships to %s only.", strings.Join(countries, ", "))
		return a, out
	}
	for _, c := range []struct {
		field, value string
		min, max     int
	}{{"name", a.Name, 1, 100}, {"line1", a.Line1, 1, 200}, {"line2", a.Line2, 0, 200}, {"city", a.City, 1, 100}} {
		n := utf8.RuneCountInString(c.value)
		switch {
		case n < c.min:
			f(c.field, "Is required.")
		case n > c.max:
			f(c.field, "Must be at most %d characters.", c.max)
		case strings.ContainsFunc(c.value, func(r rune) bool { return r < ' ' }):
			f(c.field, "Must not contain control characters.")
		}
	}
	if re := postalCodes[a.Country]; re != nil && !re.MatchString(a.PostalCode) {
		f("postal_code", "Must look like %s.", postalExamples[a.Country])
	}
	switch a.Country {
	case "US":
		if _, ok := usStates[a.Region]; !ok {
			f("region", "Must be a US state code such as CA or NY.")
		}
	default:
		if a.Region == "" || utf8.RuneCountInString(a.Region) > 100 {
			f("region", "The province or state is required.")
		}
	}
	return a, out
}

// NormalizeEmail checks an email address and returns it trimmed.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return "", fieldError("email", "Must be an email address such as you@example.com.")
	}
	return s, nil
}
