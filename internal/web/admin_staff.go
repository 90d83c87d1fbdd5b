package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"mistore/internal/input"
	"mistore/internal/staff"
)

// adminStaffRoutes registers the management of staff members and API
// keys: owners only (PermManageStaff, PermManageAPIKeys), and the
// permission matrix, which every member may read.
func (s *Server) adminStaffRoutes(a *adminRouter) {
	a.page("GET /admin/staff", staff.PermManageStaff, s.adminStaffPage)
	a.page("POST /admin/staff", staff.PermManageStaff, s.adminStaffCreate)
	a.page("POST /admin/staff/{id}/role", staff.PermManageStaff, s.adminStaffRole)
	a.page("POST /admin/staff/{id}/disable", staff.PermManageStaff, s.adminStaffDisable)
	a.page("GET /admin/api-keys", staff.PermManageAPIKeys, s.adminKeysPage)
	a.page("POST /admin/api-keys", staff.PermManageAPIKeys, s.adminKeyCreate)
	a.page("POST /admin/api-keys/{id}/revoke", staff.PermManageAPIKeys, s.adminKeyRevoke)
	a.page("GET /admin/permissions", staff.PermViewReports, s.adminPermissionsPage)

	idParam := paramDoc{name: "id", in: "path", typ: "integer", desc: "Id.", required: true}
	a.api("GET /api/v1/admin/staff", staff.PermManageStaff, s.apiAdminStaffList, opDoc{
		summary: "Every staff member, disabled ones included.", response: "StaffList",
	})
	a.api("POST /api/v1/admin/staff", staff.PermManageStaff, s.apiAdminStaffCreate, opDoc{
		summary:  "Add a staff member with a first password (12 to 128 characters) they should change.",
		response: "StaffMember", status: http.StatusCreated, request: "StaffCreateRequest",
	})
	a.api("PATCH /api/v1/admin/staff/{id}", staff.PermManageStaff, s.apiAdminStaffUpdate, opDoc{
		summary:  "Change a member's role, or disable them (ends their sessions). The last enabled owner stays one (409 last_owner).",
		response: "StaffMember", request: "StaffUpdateRequest", params: []paramDoc{idParam},
	})
	a.api("GET /api/v1/admin/api-keys", staff.PermManageAPIKeys, s.apiAdminKeyList, opDoc{
		summary: "Every API key (never the key itself), revoked ones included.", response: "APIKeyList",
	})
	a.api("POST /api/v1/admin/api-keys", staff.PermManageAPIKeys, s.apiAdminKeyCreate, opDoc{
		summary: "Make an API key scoped to a role; the key is in this answer only.", response: "NewAPIKey",
		status: http.StatusCreated, request: "APIKeyCreateRequest",
	})
	a.api("DELETE /api/v1/admin/api-keys/{id}", staff.PermManageAPIKeys, s.apiAdminKeyRevoke, opDoc{
		summary: "Revoke an API key, at once and for good.", status: http.StatusNoContent, params: []paramDoc{idParam},
	})
	a.api("GET /api/v1/admin/permissions", staff.PermViewReports, s.apiAdminPermissions, opDoc{
		summary: "The permission matrix: every permission and the roles that hold it.", response: "PermissionMatrix",
	})
}

// adminSchemas are the bodies of the staff, API key, audit and caller
// routes.
func adminSchemas() map[string]any {
	str, integer, boolean, ts := schemaString, schemaInteger, schemaBoolean, schemaTime
	role := map[string]any{"type": "string", "enum": []string{"owner", "manager", "support", "viewer"}}
	return map[string]any{
		"AdminCaller": schemaObject([]string{"kind", "name", "role", "permissions"}, map[string]any{
			"kind": map[string]any{"type": "string", "enum": []string{"staff", "apikey"}}, "id": integer, "name": str,
			"role": role, "permissions": schemaArray(str),
		}),
		"StaffMember": schemaObject([]string{"id", "email", "name", "role", "created_at", "disabled"}, map[string]any{
			"id": integer, "email": str, "name": str, "role": role, "created_at": ts, "disabled": boolean,
		}),
		"StaffList": schemaObject([]string{"staff"}, map[string]any{"staff": schemaArray(schemaRef("StaffMember"))}),
		"StaffCreateRequest": schemaObject([]string{"email", "name", "role", "password"}, map[string]any{
			"email": str, "name": str, "role": role,
			"password": map[string]any{"type": "string", "minLength": 12, "maxLength": 128},
		}),
		"StaffUpdateRequest": schemaObject(nil, map[string]any{"role": role,
			"disabled": map[string]any{"type": "boolean", "description": "true disables the member; a disabled member cannot be enabled again (make a new one)."}}),
		"APIKey": schemaObject([]string{"id", "name", "role", "prefix", "created_at", "revoked"}, map[string]any{
			"id": integer, "name": str, "role": role, "prefix": str, "created_at": ts, "last_used_at": ts, "revoked": boolean,
		}),
		"APIKeyList":          schemaObject([]string{"api_keys"}, map[string]any{"api_keys": schemaArray(schemaRef("APIKey"))}),
		"APIKeyCreateRequest": schemaObject([]string{"name", "role"}, map[string]any{"name": str, "role": role}),
		"NewAPIKey": schemaObject([]string{"key", "api_key"}, map[string]any{
			"key": map[string]any{"type": "string", "description": "Send as Authorization: Bearer KEY. Shown only here."}, "api_key": schemaRef("APIKey"),
		}),
		"PermissionMatrix": schemaObject([]string{"permissions"}, map[string]any{"permissions": schemaArray(schemaObject(
			[]string{"permission", "description", "roles"}, map[string]any{"permission": str, "description": str, "roles": schemaArray(role)}))}),
		"AuditEntry": schemaObject([]string{"id", "at", "actor", "action", "subject"}, map[string]any{
			"id": integer, "at": ts, "action": str, "subject": str,
			"actor":  schemaObject([]string{"kind", "name"}, map[string]any{"kind": str, "id": integer, "name": str, "ip": str}),
			"before": map[string]any{"description": "The thing before the change (absent for a creation)."},
			"after":  map[string]any{"description": "The thing after the change (absent for a deletion)."},
		}),
		"AuditLog": schemaObject([]string{"entries"}, map[string]any{"entries": schemaArray(schemaRef("AuditEntry")),
			"next_before": map[string]any{"type": "integer", "description": "Pass as before= for the next (older) page; absent on the last page."}}),
	}
}

// pathID reads the {id} path value as a positive integer.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("id", "id must be a positive whole number")
	}
	return id, nil
}

// adminStaffContent is the staff page's content.
type adminStaffContent struct {
	Members []staff.Member
	Roles   []staff.Role
	Me      int64
	Form    adminStaffForm
	// TwoStep holds the ids of the members with two-step sign-in on.
	TwoStep map[int64]bool
	// TwoStepRequired: the shop requires two-step sign-in of everyone.
	TwoStepRequired bool
}

// adminStaffForm is the new-member form, kept when it is shown again with
// an error.
type adminStaffForm struct {
	Email, Name, Role, Error string
}

func (s *Server) adminStaffPage(w http.ResponseWriter, r *http.Request) {
	s.renderStaffPage(w, r, http.StatusOK, adminStaffForm{Role: string(staff.RoleSupport)})
}

func (s *Server) renderStaffPage(w http.ResponseWriter, r *http.Request, status int, f adminStaffForm) {
	members, err := s.staff.List(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	twoStep, err := s.staff.TwoStepMembers(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	required, err := s.staff.TwoStepRequired(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.renderAdmin(w, r, status, "admin_staff", "staff", "Staff", adminStaffContent{Members: members, Roles: staff.Roles(),
		Me: s.staffCaller(r).MemberID, Form: f, TwoStep: twoStep, TwoStepRequired: required})
}

func (s *Server) adminStaffCreate(w http.ResponseWriter, r *http.Request) {
	f := adminStaffForm{Email: strings.TrimSpace(r.PostFormValue("email")), Name: strings.TrimSpace(r.PostFormValue("name")), Role: r.PostFormValue("role")}
	role, err := staff.ParseRole(f.Role)
	if err == nil {
		_, err = s.staff.Create(r.Context(), f.Email, f.Name, role, r.PostFormValue("password"))
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		f.Error = staffErrorText(err, body.Message)
		s.renderStaffPage(w, r, status, f)
		return
	}
	s.adminRedirect(w, r, "/admin/staff", f.Name+" can now sign in as "+string(role)+".")
}

// staffErrorText is the sentence a staff form shows for err.
func staffErrorText(err error, fallback string) string {
	switch {
	case errors.Is(err, staff.ErrPasswordLength):
		return "The password must be 12 to 128 characters."
	case errors.Is(err, staff.ErrInvalidEmail):
		return "That is not an email address we can use."
	case errors.Is(err, staff.ErrInvalidName):
		return "The name must be 1 to 100 characters."
	case errors.Is(err, staff.ErrEmailTaken):
		return "A staff member with this email address already exists."
	case errors.Is(err, staff.ErrInvalidRole):
		return "Choose one of the four roles."
	case errors.Is(err, staff.ErrLastOwner):
		return "The shop must keep at least one enabled owner."
	case errors.Is(err, staff.ErrTwoStepOn):
		return "Two-step sign-in is already on."
	case errors.Is(err, staff.ErrTwoStepNotSetUp):
		return "No two-step sign-in is being set up (it may be on already): look at the page as it is now."
	}
	return fallback
}

func (s *Server) adminStaffRole(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		var role staff.Role
		if role, err = staff.ParseRole(r.PostFormValue("role")); err == nil {
			err = s.staff.SetRole(r.Context(), id, role)
		}
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/staff")
		return
	}
	s.adminRedirect(w, r, "/admin/staff", "Role changed.")
}

func (s *Server) adminStaffDisable(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.staff.Disable(r.Context(), id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/staff")
		return
	}
	s.adminRedirect(w, r, "/admin/staff", "Member disabled; their sessions have ended.")
}

// adminFormFail answers a back-office POST that was refused for a reason
// the member can act on by going back to path with the reason shown;
// anything else is an error page.
func (s *Server) adminFormFail(w http.ResponseWriter, r *http.Request, err error, path string) {
	status, body := classify(err)
	if status >= 500 || status == http.StatusUnauthorized || status == http.StatusForbidden {
		s.adminFail(w, r, err)
		return
	}
	s.adminRedirect(w, r, path, "Not done: "+staffErrorText(err, body.Message))
}

// adminKeysContent is the API keys page's content.
type adminKeysContent struct {
	Keys  []staff.APIKey
	Roles []staff.Role
	// NewKey is the key just made, shown this once.
	NewKey string
	Error  string
	Name   string
}

func (s *Server) adminKeysPage(w http.ResponseWriter, r *http.Request) {
	s.renderKeysPage(w, r, http.StatusOK, adminKeysContent{})
}

func (s *Server) renderKeysPage(w http.ResponseWriter, r *http.Request, status int, c adminKeysContent) {
	keys, err := s.staff.ListAPIKeys(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	c.Keys, c.Roles = keys, staff.Roles()
	s.renderAdmin(w, r, status, "admin_apikeys", "api-keys", "API keys", c)
}

func (s *Server) adminKeyCreate(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	role, err := staff.ParseRole(r.PostFormValue("role"))
	var key string
	if err == nil {
		key, _, err = s.staff.CreateAPIKey(r.Context(), name, role, s.staffCaller(r).MemberID)
	}
	if err != nil {
		status, body := classify(err)
		if status >= 500 {
			s.adminFail(w, r, err)
			return
		}
		s.renderKeysPage(w, r, status, adminKeysContent{Error: staffErrorText(err, body.Message), Name: name})
		return
	}
	// The key is shown in the answer to this POST and nowhere else: no
	// redirect, so it never sits in a URL or a flash cookie.
	s.renderKeysPage(w, r, http.StatusCreated, adminKeysContent{NewKey: key})
}

func (s *Server) adminKeyRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.staff.RevokeAPIKey(r.Context(), id)
	}
	if err != nil {
		s.adminFormFail(w, r, err, "/admin/api-keys")
		return
	}
	s.adminRedirect(w, r, "/admin/api-keys", "Key revoked: it no longer works.")
}

func (s *Server) adminPermissionsPage(w http.ResponseWriter, r *http.Request) {
	s.renderAdmin(w, r, http.StatusOK, "admin_permissions", "permissions", "Roles and permissions",
		struct {
			Roles  []staff.Role
			Matrix []staff.MatrixRow
		}{staff.Roles(), staff.Matrix()})
}

// The admin API of staff and keys.

func (s *Server) apiAdminStaffList(w http.ResponseWriter, r *http.Request) {
	members, err := s.staff.List(r.Context())
	writeListJSON(s, w, r, "staff", members, err)
}

// writeListJSON answers {key: items}, with an empty array rather than
// null when there are none, or err.
func writeListJSON[T any](s *Server, w http.ResponseWriter, r *http.Request, key string, items []T, err error) {
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if items == nil {
		items = []T{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{key: items})
}

// roleField parses a role from a request body.
func roleField(role string) (staff.Role, error) {
	r, err := staff.ParseRole(role)
	if err != nil {
		return "", badField("role", "The role must be owner, manager, support or viewer.")
	}
	return r, nil
}

type staffCreateBody struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

func (s *Server) apiAdminStaffCreate(w http.ResponseWriter, r *http.Request) {
	var body staffCreateBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	role, err := roleField(body.Role)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	m, err := s.staff.Create(r.Context(), body.Email, body.Name, role, body.Password)
	if err != nil {
		s.apiFail(w, r, staffFieldError(err))
		return
	}
	s.writeJSON(w, r, http.StatusCreated, m)
}

type staffUpdateBody struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

func (s *Server) apiAdminStaffUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var body staffUpdateBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	if body.Disabled != nil && !*body.Disabled {
		s.apiFail(w, r, badField("disabled", "A disabled member cannot be enabled again; add them anew."))
		return
	}
	if body.Role != nil {
		role, err := roleField(*body.Role)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		if err := s.staff.SetRole(r.Context(), id, role); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	if body.Disabled != nil {
		if err := s.staff.Disable(r.Context(), id); err != nil {
			s.apiFail(w, r, err)
			return
		}
	}
	m, err := s.staff.Get(r.Context(), id)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, m)
}

func (s *Server) apiAdminKeyList(w http.ResponseWriter, r *http.Request) {
	keys, err := s.staff.ListAPIKeys(r.Context())
	writeListJSON(s, w, r, "api_keys", keys, err)
}

type apiKeyCreateBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) apiAdminKeyCreate(w http.ResponseWriter, r *http.Request) {
	var body apiKeyCreateBody
	if err := decodeJSON(r, &body); err != nil {
		s.apiFail(w, r, err)
		return
	}
	role, err := roleField(body.Role)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	key, info, err := s.staff.CreateAPIKey(r.Context(), body.Name, role, s.staffCaller(r).MemberID)
	if err != nil {
		s.apiFail(w, r, staffFieldError(err))
		return
	}
	noStore(w)
	s.writeJSON(w, r, http.StatusCreated, map[string]any{"key": key, "api_key": info})
}

func (s *Server) apiAdminKeyRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.staff.RevokeAPIKey(r.Context(), id)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiAdminPermissions(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]any{"permissions": staff.Matrix()})
}

// badField is a 422 invalid_field error on field with message msg (a
// sentence).
func badField(field, msg string) error { return &input.FieldError{Field: field, Msg: msg} }

// staffFieldError names the field a staff validation error is about.
func staffFieldError(err error) error {
	msg := staffErrorText(err, "")
	switch {
	case errors.Is(err, staff.ErrPasswordLength):
		return badField("password", msg)
	case errors.Is(err, staff.ErrInvalidEmail):
		return badField("email", msg)
	case errors.Is(err, staff.ErrInvalidName):
		return badField("name", msg)
	case errors.Is(err, staff.ErrInvalidRole):
		return badField("role", msg)
	}
	return err
}
