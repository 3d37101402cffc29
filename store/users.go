package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"airlock/oauthflow"
)

// Roles, from least to most allowed. They are oauthflow's, which maps an
// identity provider's groups onto them.
const (
	RoleViewer  = oauthflow.RoleViewer
	RoleBuilder = oauthflow.RoleBuilder
	RoleAdmin   = oauthflow.RoleAdmin
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool { return r == RoleViewer || r == RoleBuilder || r == RoleAdmin }

// ErrLastAdmin is returned when a change would leave no enabled admin.
var ErrLastAdmin = errors.New("this is the last enabled admin: make another user admin first")

// ErrSelf is returned when an admin tries to delete their own user.
var ErrSelf = errors.New("you cannot delete your own user: ask another admin")

// User is a person who signs in to the console: with a password, or (when
// OIDCSubject is set) through the organisation's identity provider.
type User struct {
	ID                 int64
	Email              string // for single sign-on users, the provider's email claim, kept for display
	PasswordHash       string // empty for single sign-on users
	Role               string
	MustChangePassword bool
	DisabledAt         time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	OIDCIssuer         string
	OIDCSubject        string
	// Local marks a break-glass user (airlock user create --local), whose
	// password works even when password sign-in is turned off.
	Local        bool
	LastSignInAt time.Time
}

// Disabled reports whether the user may no longer sign in.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// SSO reports whether the user signs in through the identity provider.
func (u User) SSO() bool { return u.OIDCSubject != "" }

// NormalizeEmail is how emails are compared and stored.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

const userColumns = "id, email, password_hash, role, must_change_password, disabled_at, created_at, updated_at, " +
	"oidc_issuer, oidc_subject, local, last_signin_at"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var mustChange, local int
	var disabled, created, updated, signin int64
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &mustChange, &disabled, &created, &updated,
		&u.OIDCIssuer, &u.OIDCSubject, &local, &signin); err != nil {
		return User{}, err
	}
	u.MustChangePassword, u.Local = mustChange != 0, local != 0
	u.DisabledAt, u.CreatedAt, u.UpdatedAt = fromMillis(disabled), fromMillis(created), fromMillis(updated)
	u.LastSignInAt = fromMillis(signin)
	return u, nil
}

// CreateUser adds a user; a taken email is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash, role string, mustChange bool) (User, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	defer tx.Rollback()
	u, err := s.insertUser(ctx, tx, email, passwordHash, role, mustChange)
	if err != nil {
		return User{}, err
	}
	return u, commit(tx, "create user")
}

// CreateLocalUser adds a break-glass user: a password user that may sign in
// even when password sign-in is turned off (airlock user create --local).
func (s *Store) CreateLocalUser(ctx context.Context, email, passwordHash, role string) (User, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	defer tx.Rollback()
	u, err := s.insertUser(ctx, tx, email, passwordHash, role, false)
	if err != nil {
		return User{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE users SET local = 1 WHERE id = ?", u.ID); err != nil {
		return User{}, fmt.Errorf("store: create user %q: %w", u.Email, err)
	}
	u.Local = true
	return u, commit(tx, "create user")
}

// CreateFirstAdmin creates the first user as admin and spends the setup code,
// in one transaction: two setup forms posted at once cannot both succeed.
func (s *Store) CreateFirstAdmin(ctx context.Context, email, passwordHash string) (User, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("store: create first admin: %w", err)
	}
	defer tx.Rollback()
	if err := s.lockNames(ctx, tx, "users:first"); err != nil {
		return User{}, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return User{}, fmt.Errorf("store: create first admin: %w", err)
	}
	if n > 0 {
		return User{}, fmt.Errorf("store: create first admin: setup is already done: %w", ErrConflict)
	}
	u, err := s.insertUser(ctx, tx, email, passwordHash, RoleAdmin, false)
	if err != nil {
		return User{}, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM settings WHERE name = ?", SettingSetupCode); err != nil {
		return User{}, fmt.Errorf("store: spend setup code: %w", err)
	}
	return u, commit(tx, "create first admin")
}

func (s *Store) insertUser(ctx context.Context, tx *sql.Tx, email, passwordHash, role string, mustChange bool) (User, error) {
	if !ValidRole(role) {
		return User{}, fmt.Errorf("store: create user: unknown role %q", role)
	}
	now := s.now()
	email = NormalizeEmail(email)
	if err := s.lockNames(ctx, tx, "users:email:"+email); err != nil {
		return User{}, err
	}
	var exists int // among password users: a single sign-on user may share the email
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE email = ? AND oidc_subject = ''", email).Scan(&exists); err != nil {
		return User{}, fmt.Errorf("store: create user: %w", err)
	}
	if exists > 0 {
		return User{}, fmt.Errorf("store: create user %q: %w", email, ErrConflict)
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, role, must_change_password, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, email, passwordHash, role, boolInt(mustChange), millis(now), millis(now)).Scan(&id)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("store: create user %q: %w", email, ErrConflict)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: create user %q: %w", email, err)
	}
	if err := s.audit(ctx, tx, AuditUser, strconv.FormatInt(id, 10), ActionUserCreate,
		map[string]any{"email": email, "role": role, "temporary_password": mustChange}); err != nil {
		return User{}, err
	}
	return User{ID: id, Email: email, PasswordHash: passwordHash, Role: role, MustChangePassword: mustChange,
		CreatedAt: fromMillis(millis(now)), UpdatedAt: fromMillis(millis(now))}, nil
}

// GetUser returns a user by id.
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: get user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: get user %d: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail returns the password user with an email (compared
// case-insensitively). Single sign-on users are never found by email: the
// provider's subject identifies them.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.read.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ? AND oidc_subject = ''", NormalizeEmail(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: get user %q: %w", email, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: get user %q: %w", email, err)
	}
	return u, nil
}

// ListUsers returns every user, by email.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY email, id")
	if err != nil {
		return nil, fmt.Errorf("store: list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers returns how many users exist (zero means first-run setup).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// SetUserRole changes a user's role; demoting the last enabled admin is ErrLastAdmin.
func (s *Store) SetUserRole(ctx context.Context, id int64, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("store: set role: unknown role %q", role)
	}
	details := func(old string) (string, map[string]any) {
		return ActionUserRole, map[string]any{"changed": map[string]any{"role": map[string]any{"from": old, "to": role}}}
	}
	return s.updateUserGuarded(ctx, id, role != RoleAdmin, details, "UPDATE users SET role = ?, updated_at = ? WHERE id = ?", role, millis(s.now()), id)
}

// SetUserDisabled disables (ending their sessions) or re-enables a user;
// disabling the last enabled admin is ErrLastAdmin.
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	at := int64(0)
	if disabled {
		at = millis(s.now())
	}
	action := ActionUserEnable
	if disabled {
		action = ActionUserDisable
	}
	details := func(string) (string, map[string]any) { return action, nil }
	if err := s.updateUserGuarded(ctx, id, disabled, details, "UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?", at, millis(s.now()), id); err != nil {
		return err
	}
	if disabled {
		return s.DeleteUserSessions(ctx, id)
	}
	return nil
}

// updateUserGuarded runs an update on one user; when removesAdmin, it first
// checks in the same transaction that another enabled admin remains. audit
// names the action and its details, given the user's role before.
func (s *Store) updateUserGuarded(ctx context.Context, id int64, removesAdmin bool, audit func(role string) (string, map[string]any), query string, args ...any) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: update user %d: %w", id, err)
	}
	defer tx.Rollback()
	if err := s.lockNames(ctx, tx, "users:admins"); err != nil {
		return err
	}
	var role string
	var disabled int64
	err = tx.QueryRowContext(ctx, "SELECT role, disabled_at FROM users WHERE id = ?", id).Scan(&role, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: update user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: update user %d: %w", id, err)
	}
	if removesAdmin && role == RoleAdmin && disabled == 0 {
		var others int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at = 0 AND id <> ?", id).Scan(&others); err != nil {
			return fmt.Errorf("store: update user %d: %w", id, err)
		}
		if others == 0 {
			return ErrLastAdmin
		}
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("store: update user %d: %w", id, err)
	}
	action, details := audit(role)
	if err := s.audit(ctx, tx, AuditUser, strconv.FormatInt(id, 10), action, details); err != nil {
		return err
	}
	return commit(tx, "update user")
}

// SetPassword replaces a password user's hash; a single sign-on user has no
// password to replace (ErrNotFound).
func (s *Store) SetPassword(ctx context.Context, id int64, passwordHash string, mustChange bool) error {
	n, err := s.execAudited(ctx, "set password", auditRow{AuditUser, strconv.FormatInt(id, 10), ActionUserChangePassword, nil},
		"UPDATE users SET password_hash = ?, must_change_password = ?, updated_at = ? WHERE id = ? AND oidc_subject = ''",
		passwordHash, boolInt(mustChange), millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: set password of user %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: set password of user %d: %w", id, ErrNotFound)
	}
	return nil
}

// ResetPassword gives a password user a temporary password that must be
// changed at the next sign-in, and ends their sessions, in one transaction:
// whoever had the old password is signed out at the same moment it stops
// working.
func (s *Store) ResetPassword(ctx context.Context, id int64, tempHash string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: reset password of user %d: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, must_change_password = 1, updated_at = ? WHERE id = ? AND oidc_subject = ''",
		tempHash, millis(s.now()), id)
	if err != nil {
		return fmt.Errorf("store: reset password of user %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: reset password of user %d: %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", id); err != nil {
		return fmt.Errorf("store: reset password of user %d: %w", id, err)
	}
	if err := s.audit(ctx, tx, AuditUser, strconv.FormatInt(id, 10), ActionUserResetPassword, nil); err != nil {
		return err
	}
	return commit(tx, "reset password")
}

// DeleteUser removes a user and ends their sessions. by is the admin asking:
// deleting oneself is ErrSelf, deleting the last enabled admin ErrLastAdmin,
// both checked in the same transaction as the delete.
func (s *Store) DeleteUser(ctx context.Context, id, by int64) (User, error) {
	if id == by {
		return User{}, ErrSelf
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("store: delete user %d: %w", id, err)
	}
	defer tx.Rollback()
	if err := s.lockNames(ctx, tx, "users:admins"); err != nil {
		return User{}, err
	}
	u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: delete user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: delete user %d: %w", id, err)
	}
	if u.Role == RoleAdmin && !u.Disabled() {
		var others int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at = 0 AND id <> ?", id).Scan(&others); err != nil {
			return User{}, fmt.Errorf("store: delete user %d: %w", id, err)
		}
		if others == 0 {
			return User{}, ErrLastAdmin
		}
	}
	for _, q := range []string{"DELETE FROM sessions WHERE user_id = ?", "DELETE FROM users WHERE id = ?"} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return User{}, fmt.Errorf("store: delete user %d: %w", id, err)
		}
	}
	if err := s.audit(ctx, tx, AuditUser, strconv.FormatInt(id, 10), ActionUserDelete, map[string]any{"email": u.Email, "role": u.Role}); err != nil {
		return User{}, err
	}
	return u, commit(tx, "delete user")
}

// RecordSignIn notes when a user last signed in (the users page shows it)
// and, when ctx carries an actor, writes the sign-in to the audit log as
// that user's, from the actor's address.
func (s *Store) RecordSignIn(ctx context.Context, id int64) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	method := "password"
	if u.SSO() {
		method = "oidc"
	}
	ctx = signingIn(ctx, u)
	if _, err := s.execAudited(ctx, "record sign-in", auditRow{AuditUser, strconv.FormatInt(id, 10), ActionSignIn, map[string]any{"method": method}},
		"UPDATE users SET last_signin_at = ? WHERE id = ?", millis(s.now()), id); err != nil {
		return fmt.Errorf("store: record sign-in of user %d: %w", id, err)
	}
	return nil
}

// signingIn makes the user signing in the actor of ctx, keeping the address.
func signingIn(ctx context.Context, u User) context.Context {
	a, ok := oauthflow.ActorFrom(ctx)
	if !ok {
		return ctx
	}
	a.Kind, a.ID, a.Name = oauthflow.ActorUser, strconv.FormatInt(u.ID, 10), u.Email
	return oauthflow.WithActor(ctx, a)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func commit(tx *sql.Tx, what string) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", what, err)
	}
	return nil
}
