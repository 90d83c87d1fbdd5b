package order

import (
	"time"

	"mistore/internal/money"
)

// WebhookOrder is the data of the order.* outbound webhook events
// (notify.EmitEvent): the order as an integration needs it to ship,
// account or reconcile. It carries the customer's address and email,
// which is why only the owner may register webhook endpoints.
type WebhookOrder struct {
	Number          string             `json:"number"`
	Market          string             `json:"market"`
	Status          Status             `json:"status"`
	Email           string             `json:"email"`
	Subtotal        money.Money        `json:"subtotal"`
	Discount        money.Money        `json:"discount"`
	Shipping        money.Money        `json:"shipping"`
	Tax             money.Money        `json:"tax"`
	TaxIncluded     bool               `json:"tax_included"`
	Total           money.Money        `json:"total"`
	PaidAmount      money.Money        `json:"paid_amount"`
	RefundedAmount  money.Money        `json:"refunded_amount"`
	CouponCode      string             `json:"coupon_code,omitempty"`
	ShippingMethod  string             `json:"shipping_method"`
	ShippingAddress Address            `json:"shipping_address"`
	Lines           []WebhookOrderLine `json:"lines"`
	CreatedAt       time.Time          `json:"created_at"`
}

// WebhookOrderLine is one line of a WebhookOrder.
type WebhookOrderLine struct {
	SKU       string      `json:"sku"`
	Name      string      `json:"name"`
	Variant   string      `json:"variant,omitempty"`
	Quantity  int         `json:"quantity"`
	UnitPrice money.Money `json:"unit_price"`
	Total     money.Money `json:"total"`
}

// WebhookData is o as the order.* webhook events send it, with status as
// the order's status after the change being reported (o may have been
// read before it).
func WebhookData(o *Order, status Status) WebhookOrder {
	w := WebhookOrder{
		Number: o.Number, Market: o.Market, Status: status, Email: o.Email,
		Subtotal: o.Subtotal, Discount: o.Discount, Shipping: o.Shipping, Tax: o.Tax, TaxIncluded: o.TaxIncluded, Total: o.Total,
		PaidAmount: o.PaidAmount, RefundedAmount: o.RefundedAmount, CouponCode: o.CouponCode,
		ShippingMethod: o.ShippingMethod, ShippingAddress: o.Address, CreatedAt: o.CreatedAt,
		Lines: make([]WebhookOrderLine, len(o.Lines)),
	}
	for i, l := range o.Lines {
		w.Lines[i] = WebhookOrderLine{SKU: l.SKU, Name: l.Name, Variant: l.VariantName, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Total: l.Total}
	}
	if status == Paid && w.PaidAmount.Amount == 0 {
		// Read before the payment was recorded.
		w.PaidAmount = o.Total
	}
	return w
}
