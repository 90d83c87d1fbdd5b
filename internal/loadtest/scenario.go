package loadtest

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
)

// Kind identifies one kind of request a scenario issues; the report has one
// line per kind.
type Kind int

// The request kinds, in the order the report lists them.
const (
	KindHome       Kind = iota // GET /{m}/
	KindList                   // GET /{m}/products, sometimes by category or page 2
	KindSearch                 // GET /{m}/products?q=TERM
	KindProduct                // GET /{m}/products/{slug}
	KindProductAPI             // GET /api/v1/markets/{m}/products/{slug}
	KindSearchAPI              // GET /api/v1/markets/{m}/products?q=TERM

	// The checkout scenario's steps, in the order a shopper takes them.
	KindCart     // POST /api/v1/markets/{m}/carts
	KindAdd      // POST /api/v1/carts/{id}/items
	KindCheckout // POST /api/v1/carts/{id}/checkout
	KindPay      // POST {payment.redirect_url}, the test provider's card form
	KindOrder    // GET /api/v1/orders/{number}, polled until paid
	// KindPaidWait is not a request but a span: from the pay step's answer
	// to the first order poll that shows the order paid. It is left out of
	// the total, whose percentiles are per request.
	KindPaidWait

	// The flashsale scenario's claims, POST /api/v1/flash-sales/{id}/claims,
	// by how they were answered.
	KindClaim       // decided: claimed, sold_out, limit_reached, ...
	KindClaimRetry  // 503 overloaded or 409 not_started: tried again
	KindClaimFailed // any other answer, or none: the customer gives up
	// KindClaimWait is a span, like KindPaidWait: from a customer's first
	// claim request to the answer that decided it, retries included.
	KindClaimWait
	numKinds
)

// String returns the kind's name as used in reports and scenario names.
func (k Kind) String() string {
	switch k {
	case KindHome:
		return "home"
	case KindList:
		return "list"
	case KindSearch:
		return "search"
	case KindProduct:
		return "product"
	case KindProductAPI:
		return "product-api"
	case KindSearchAPI:
		return "search-api"
	case KindCart:
		return "cart"
	case KindAdd:
		return "add"
	case KindCheckout:
		return "checkout"
	case KindPay:
		return "pay"
	case KindOrder:
		return "order"
	case KindPaidWait:
		return "paid-wait"
	case KindClaim:
		return "claim"
	case KindClaimRetry:
		return "claim-retry"
	case KindClaimFailed:
		return "claim-failed"
	case KindClaimWait:
		return "claim-wait"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// pickFunc chooses the kind of a worker's next request. It runs once per
// request, so it must not allocate.
type pickFunc func(rng *rand.Rand) Kind

// isSpan reports whether k measures a span of several requests rather than
// one request.
func (k Kind) isSpan() bool { return k == KindPaidWait || k == KindClaimWait }

// scenario is one entry of the scenario table. A scenario either draws
// independent requests with pick or, with checkout set, has every worker
// walk the checkout flow, or with flashsale set, prepares a flash sale and
// its crowd and has the workers claim (flashsale.go); one with none of them
// is reserved for later work and rejected by Run.
type scenario struct {
	kinds []Kind // the kinds the scenario reports, in report order
	pick  pickFunc
	// checkout makes each worker buy: cart, add, checkout, pay, wait for
	// paid, again and again (checkout.go).
	checkout bool
	// flashsale makes the run one flash sale: customers and a sale
	// prepared in the database, every customer's claim fired at the
	// start, the outcome checked against the database.
	flashsale bool
}

// runnable reports whether Run can execute the scenario.
func (s scenario) runnable() bool { return s.pick != nil || s.checkout || s.flashsale }

// weighted is a kind with its share of a mix, in percent.
type weighted struct {
	kind   Kind
	weight int
}

// mix builds a scenario that draws kinds at random in the given proportions.
func mix(parts ...weighted) scenario {
	var total int
	cumulative := make([]int, len(parts))
	kinds := make([]Kind, len(parts))
	for i, p := range parts {
		total += p.weight
		cumulative[i] = total
		kinds[i] = p.kind
	}
	slices.Sort(kinds)
	return scenario{
		kinds: kinds,
		pick: func(rng *rand.Rand) Kind {
			n := rng.IntN(total)
			for i, c := range cumulative {
				if n < c {
					return parts[i].kind
				}
			}
			return parts[len(parts)-1].kind
		},
	}
}

// only builds a scenario that issues a single kind of request.
func only(k Kind) scenario {
	return scenario{kinds: []Kind{k}, pick: func(*rand.Rand) Kind { return k }}
}

// scenarioTable maps scenario names to their definitions. It is a function
// rather than a package variable so that nothing is shared between runs;
// adding a scenario means adding a line here.
func scenarioTable() map[string]scenario {
	return map[string]scenario{
		"browse": mix(
			weighted{KindHome, 10},
			weighted{KindList, 15},
			weighted{KindSearch, 15},
			weighted{KindProduct, 35},
			weighted{KindProductAPI, 15},
			weighted{KindSearchAPI, 10},
		),
		"home":        only(KindHome),
		"list":        only(KindList),
		"search":      only(KindSearch),
		"product":     only(KindProduct),
		"product-api": only(KindProductAPI),
		"search-api":  only(KindSearchAPI),
		"checkout": {
			kinds:    []Kind{KindCart, KindAdd, KindCheckout, KindPay, KindOrder, KindPaidWait},
			checkout: true,
		},
		"flashsale": {
			kinds:     []Kind{KindClaim, KindClaimRetry, KindClaimFailed, KindClaimWait},
			flashsale: true,
		},
	}
}

// Scenarios returns the names of the scenarios Run can execute, sorted.
func Scenarios() []string {
	var names []string
	for name, s := range scenarioTable() {
		if s.runnable() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// lookupScenario returns the named scenario or an error that says why it
// cannot run.
func lookupScenario(name string) (scenario, error) {
	s, ok := scenarioTable()[name]
	if !ok {
		return scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(Scenarios(), ", "))
	}
	if !s.runnable() {
		return scenario{}, fmt.Errorf("scenario %q is not available yet", name)
	}
	return s, nil
}

// endpoints holds the parsed URLs of one target for every kind, built once
// before the run so that issuing a request formats and parses nothing.
type endpoints struct {
	home         *url.URL
	list         *url.URL
	listPage2    *url.URL
	listCategory []*url.URL
	search       []*url.URL
	product      []*url.URL
	productAPI   []*url.URL
	searchAPI    []*url.URL
}

// buildEndpoints prepares the URLs of every kind for the target base URL.
func buildEndpoints(base, market string, cat *catalog) (*endpoints, error) {
	root := strings.TrimRight(base, "/")
	m := url.PathEscape(market)
	var firstErr error
	parse := func(raw string) *url.URL {
		u, err := url.Parse(raw)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("build request URL %q: %w", raw, err)
		}
		return u
	}
	each := func(items []string, format func(string) string) []*url.URL {
		out := make([]*url.URL, len(items))
		for i, it := range items {
			out[i] = parse(format(it))
		}
		return out
	}
	e := &endpoints{
		home:      parse(root + "/" + m + "/"),
		list:      parse(root + "/" + m + "/products"),
		listPage2: parse(root + "/" + m + "/products?page=2"),
		listCategory: each(cat.categories, func(c string) string {
			return root + "/" + m + "/products?category=" + url.QueryEscape(c)
		}),
		search: each(cat.terms, func(t string) string {
			return root + "/" + m + "/products?q=" + url.QueryEscape(t)
		}),
		product: each(cat.slugs, func(s string) string {
			return root + "/" + m + "/products/" + url.PathEscape(s)
		}),
		productAPI: each(cat.slugs, func(s string) string {
			return root + "/api/v1/markets/" + m + "/products/" + url.PathEscape(s)
		}),
		searchAPI: each(cat.terms, func(t string) string {
			return root + "/api/v1/markets/" + m + "/products?q=" + url.QueryEscape(t)
		}),
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return e, nil
}

// url picks the URL for a request of kind k. Discovery guarantees at least
// one slug and one search term, so the slices indexed here are never empty.
func (e *endpoints) url(k Kind, rng *rand.Rand) *url.URL {
	switch k {
	case KindHome:
		return e.home
	case KindList:
		// Half the list views are the plain first page; the rest exercise
		// the filtered and paginated queries, which hit the database
		// differently.
		switch n := rng.IntN(4); {
		case n == 2:
			return e.listPage2
		case n == 3 && len(e.listCategory) > 0:
			return e.listCategory[rng.IntN(len(e.listCategory))]
		default:
			return e.list
		}
	case KindSearch:
		return e.search[rng.IntN(len(e.search))]
	case KindProduct:
		return e.product[rng.IntN(len(e.product))]
	case KindProductAPI:
		return e.productAPI[rng.IntN(len(e.productAPI))]
	case KindSearchAPI:
		return e.searchAPI[rng.IntN(len(e.searchAPI))]
	}
	return e.home
}
