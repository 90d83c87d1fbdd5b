package staff

import (
	"errors"
	"fmt"
)

// Role is what a staff member or an API key may do in the back office. A
// member has exactly one; what each allows is the permission table below.
type Role string

// The roles, from most to least powerful.
const (
	// RoleOwner may do everything, including managing staff and API keys.
	RoleOwner Role = "owner"
	// RoleManager runs the shop: everything but staff and API keys.
	RoleManager Role = "manager"
	// RoleSupport serves customers: orders, refunds, moderation, reports.
	RoleSupport Role = "support"
	// RoleViewer may look but not change anything.
	RoleViewer Role = "viewer"
)

// ErrInvalidRole means a string names none of the four roles.
var ErrInvalidRole = errors.New("staff: invalid role")

// Roles returns the four roles, from most to least powerful: the order of
// the columns of Matrix and of any role picker.
func Roles() []Role { return []Role{RoleOwner, RoleManager, RoleSupport, RoleViewer} }

// ParseRole returns the role named s, exactly as written ("owner", not
// "Owner"), or ErrInvalidRole.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleOwner, RoleManager, RoleSupport, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w %q: want owner, manager, support or viewer", ErrInvalidRole, s)
}

// valid reports whether r is one of the four roles.
func (r Role) valid() bool {
	_, err := ParseRole(string(r))
	return err == nil
}

// Permission is one thing the back office lets a role do.
type Permission string

// The permissions, in the order Matrix lists them.
const (
	PermViewOrders       Permission = "orders.view"
	PermFulfilOrders     Permission = "orders.fulfil"
	PermRefundOrders     Permission = "orders.refund"
	PermEditCatalog      Permission = "catalog.edit"
	PermEditInventory    Permission = "inventory.edit"
	PermEditPrices       Permission = "prices.edit"
	PermManageCoupons    Permission = "coupons.manage"
	PermManageFlashSales Permission = "flashsales.manage"
	PermModerate         Permission = "community.moderate"
	PermViewAudit        Permission = "audit.view"
	PermManageStaff      Permission = "staff.manage"
	PermManageAPIKeys    Permission = "apikeys.manage"
	PermRetryJobs        Permission = "jobs.retry"
	PermViewReports      Permission = "reports.view"
)

// grant is one row of the permission table: which roles hold perm.
type grant struct {
	perm                            Permission
	desc                            string
	owner, manager, support, viewer bool
}

// permissions is the one permission table; Can and Matrix both read it and
// nothing writes it (Matrix hands out copies), so it is constant in all
// but name.
//
// Support may refund: a refund is the usual end of a customer's complaint,
// and it is safe to leave to the people who handle complaints because it
// can only send money back to the payment that brought it in, never more
// than was captured (the order keeps paid and refunded amounts), so a
// support agent cannot move money anywhere else; each refund is an order
// event an owner or manager can audit. Making support escalate every
// refund to a manager would cost customers time for no protection.
//
// Viewers hold exactly the *.view permissions (audit.view included: the
// log records who did what, and reading it changes nothing); support does
// not read the audit log, which is for those who supervise.
var permissions = [...]grant{
	// perm                 description                                       owner  manager support viewer
	{PermViewOrders, "See orders and their customers' details", true, true, true, true},
	{PermFulfilOrders, "Mark orders shipped, add tracking", true, true, true, false},
	{PermRefundOrders, "Refund orders to the payment that paid them", true, true, true, false},
	{PermEditCatalog, "Create and edit products and collections", true, true, false, false},
	{PermEditInventory, "Change stock levels", true, true, false, false},
	{PermEditPrices, "Change prices", true, true, false, false},
	{PermManageCoupons, "Create, change and end coupons", true, true, false, false},
	{PermManageFlashSales, "Schedule and end flash sales", true, true, false, false},
	{PermModerate, "Moderate reviews and questions", true, true, true, false},
	{PermViewAudit, "Read the audit log", true, true, false, true},
	{PermManageStaff, "Add staff, change their roles, disable them", true, false, false, false},
	{PermManageAPIKeys, "Create and revoke API keys", true, false, false, false},
	{PermRetryJobs, "Retry or dismiss background work that failed", true, true, false, false},
	{PermViewReports, "See sales and stock reports", true, true, true, true},
}

// has reports whether role r holds g's permission.
func (g grant) has(r Role) bool {
	switch r {
	case RoleOwner:
		return g.owner
	case RoleManager:
		return g.manager
	case RoleSupport:
		return g.support
	case RoleViewer:
		return g.viewer
	}
	return false
}

// Can reports whether role r holds permission p. An unknown role holds
// nothing and an unknown permission is held by no one, so a typo denies
// rather than allows.
func (r Role) Can(p Permission) bool {
	for _, g := range permissions {
		if g.perm == p {
			return g.has(r)
		}
	}
	return false
}

// MatrixRow is one permission and the roles that hold it, a row of the
// table Matrix returns.
type MatrixRow struct {
	Permission  Permission `json:"permission"`
	Description string     `json:"description"`
	// Roles are the roles that hold Permission, in the order of Roles().
	Roles []Role `json:"roles"`
}

// Matrix returns the permission table, for documentation and the admin
// page: every permission, in a fixed order, with the roles that hold it.
// The result is the caller's to keep or change.
func Matrix() []MatrixRow {
	rows := make([]MatrixRow, 0, len(permissions))
	for _, g := range permissions {
		row := MatrixRow{Permission: g.perm, Description: g.desc, Roles: []Role{}}
		for _, r := range Roles() {
			if g.has(r) {
				row.Roles = append(row.Roles, r)
			}
		}
		rows = append(rows, row)
	}
	return rows
}
