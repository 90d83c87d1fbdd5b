package staff_test

import (
	"errors"
	"slices"
	"testing"

	"mistore/internal/staff"
)

func TestParseRole(t *testing.T) {
	for _, r := range staff.Roles() {
		got, err := staff.ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Owner", "OWNER", " owner", "owner ", "admin", "root", "manager\x00", "view"} {
		if got, err := staff.ParseRole(s); !errors.Is(err, staff.ErrInvalidRole) || got != "" {
			t.Errorf("ParseRole(%q) = %q, %v; want ErrInvalidRole", s, got, err)
		}
	}
}

// TestMatrix checks every role against every permission, written out in
// full here rather than derived, so that a change to the table in the
// code must be made twice, on purpose.
func TestMatrix(t *testing.T) {
	const (
		o = 1 << iota // owner
		m             // manager
		s             // support
		v             // viewer
	)
	want := []struct {
		perm  staff.Permission
		roles int
	}{
		{staff.PermViewOrders, o | m | s | v},
		{staff.PermFulfilOrders, o | m | s},
		{staff.PermRefundOrders, o | m | s},
		{staff.PermEditCatalog, o | m},
		{staff.PermEditInventory, o | m},
		{staff.PermEditPrices, o | m},
		{staff.PermManageCoupons, o | m},
		{staff.PermManageFlashSales, o | m},
		{staff.PermModerate, o | m | s},
		{staff.PermViewAudit, o | m | v},
		{staff.PermManageStaff, o},
		{staff.PermManageAPIKeys, o},
		{staff.PermRetryJobs, o | m},
		{staff.PermViewReports, o | m | s | v},
	}
	bits := map[staff.Role]int{staff.RoleOwner: o, staff.RoleManager: m, staff.RoleSupport: s, staff.RoleViewer: v}
	for _, w := range want {
		for _, r := range staff.Roles() {
			if got, exp := r.Can(w.perm), w.roles&bits[r] != 0; got != exp {
				t.Errorf("%s.Can(%s) = %v, want %v", r, w.perm, got, exp)
			}
		}
		if staff.Role("admin").Can(w.perm) || staff.Role("").Can(w.perm) {
			t.Errorf("an unknown role holds %s", w.perm)
		}
	}
	for _, r := range staff.Roles() {
		if r.Can("orders.delete") || r.Can("") {
			t.Errorf("%s holds an unknown permission", r)
		}
	}

	rows := staff.Matrix()
	if len(rows) != len(want) {
		t.Fatalf("Matrix has %d rows, want %d", len(rows), len(want))
	}
	for i, row := range rows {
		if row.Permission != want[i].perm {
			t.Errorf("Matrix row %d is %s, want %s", i, row.Permission, want[i].perm)
		}
		var exp []staff.Role
		for _, r := range staff.Roles() {
			if want[i].roles&bits[r] != 0 {
				exp = append(exp, r)
			}
		}
		if !slices.Equal(row.Roles, exp) || row.Description == "" {
			t.Errorf("Matrix row %s = %v %q, want roles %v and a description", row.Permission, row.Roles, row.Description, exp)
		}
	}
	// The result is a copy: changing it changes nothing.
	rows[0].Roles[0] = staff.RoleViewer
	if staff.Matrix()[0].Roles[0] != staff.RoleOwner {
		t.Error("Matrix returned shared state")
	}
}
