package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// Session kinds: a console session belongs to a signed-in (or signing-in) user;
// a connect session is the short anonymous session a connect link opens.
const (
	SessionConsole = "console"
	SessionConnect = "connect"
)

// SessionLifetimes bound how long a session lives.
type SessionLifetimes struct {
	Absolute time.Duration // from creation, whatever the activity
	Idle     time.Duration // since the last request
	Connect  time.Duration // absolute lifetime of an anonymous connect-link session
}

// DefaultLifetimes are the console's: 12 h absolute, 2 h idle, 30 min for connect links.
var DefaultLifetimes = SessionLifetimes{Absolute: 12 * time.Hour, Idle: 2 * time.Hour, Connect: 30 * time.Minute}

// touchEvery limits how often a busy session's last-seen time is written: idle
// expiry needs minutes, not milliseconds, and every write costs the one writer.
const touchEvery = time.Minute

// Session value keys the store itself understands.
const (
	// SessionKindKey holds SessionConsole or SessionConnect.
	SessionKindKey = "_kind"
	// SessionUserKey holds the signed-in user's id (int64) and is mirrored into
	// the user_id column so a user's sessions can be ended together.
	SessionUserKey = "_user"
)

// SessionStore is a gorilla/sessions Store whose cookie holds only a random
// session id with an HMAC signature. Values live in the sessions table, so the
// cookie stays under 200 bytes however much the session holds.
type SessionStore struct {
	st        *Store
	key       []byte
	Options   sessions.Options
	Lifetimes SessionLifetimes
}

// NewSessionStore returns a store signing cookies with key (32 bytes).
// secure sets the cookie's Secure attribute (the public URL is https).
func (s *Store) NewSessionStore(key []byte, secure bool) *SessionStore {
	return &SessionStore{
		st:  s,
		key: key,
		Options: sessions.Options{
			Path:     "/",
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode, // the OAuth callback is a top-level cross-site GET: Strict would drop the cookie
		},
		Lifetimes: DefaultLifetimes,
	}
}

// Get returns the request's session, loading it once per request.
func (ss *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(ss, name)
}

// New loads the session named by the request's cookie, or returns a fresh,
// unsaved session when there is none or it is invalid or expired.
func (ss *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(ss, name)
	opts := ss.Options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	id, ok := ss.verify(c.Value)
	if !ok {
		return sess, nil
	}
	now := ss.st.now()
	values, lastSeen, err := ss.st.loadSession(r.Context(), hashID(id), now, ss.Lifetimes.Idle)
	if errors.Is(err, ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	if now.Sub(lastSeen) >= touchEvery {
		if err := ss.st.touchSession(r.Context(), hashID(id), now); err != nil {
			return sess, err
		}
	}
	sess.ID = id
	sess.Values = values
	sess.IsNew = false
	return sess, nil
}

// Save writes the session row and the cookie. A negative MaxAge deletes both.
func (ss *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := ss.st.deleteSession(ctx, hashID(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	now := ss.st.now()
	if sess.ID == "" {
		id, err := newSessionID()
		if err != nil {
			return err
		}
		sess.ID = id
		lifetime := ss.Lifetimes.Absolute
		if sess.Values[SessionKindKey] == SessionConnect {
			lifetime = ss.Lifetimes.Connect
		}
		if err := ss.st.insertSession(ctx, hashID(id), sess.Values, now, now.Add(lifetime)); err != nil {
			return err
		}
	} else if err := ss.st.updateSession(ctx, hashID(sess.ID), sess.Values, now); err != nil {
		return err
	}
	expires, err := ss.st.sessionExpiry(ctx, hashID(sess.ID))
	if err != nil {
		return err
	}
	opts := *sess.Options
	opts.MaxAge = max(1, int(time.Until(expires).Seconds()))
	http.SetCookie(w, sessions.NewCookie(sess.Name(), ss.sign(sess.ID), &opts))
	return nil
}

// Renew gives the session a new id (keeping its values) and deletes the old row.
// Call it at sign-in and sign-out so an id seen before cannot be reused.
func (ss *SessionStore) Renew(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.ID != "" {
		if err := ss.st.deleteSession(r.Context(), hashID(sess.ID)); err != nil {
			return err
		}
	}
	sess.ID = ""
	sess.IsNew = true
	return ss.Save(r, w, sess)
}

// UpdateValue changes one value of a saved session in one transaction that
// starts from the row as it is now, not as the request loaded it. Save writes
// every value back, so two requests of one browser running at once (two tabs)
// would undo each other's change; a queued flash message is changed this way,
// so it is neither lost nor shown twice. fn gets the current value (nil when
// absent) and returns the new one (nil removes it); sess.Values follows.
func (ss *SessionStore) UpdateValue(ctx context.Context, sess *sessions.Session, key string, fn func(old any) any) error {
	if sess.ID == "" {
		return fmt.Errorf("store: update session value %q: the session was never saved: %w", key, ErrNotFound)
	}
	v, err := ss.st.updateSessionValue(ctx, hashID(sess.ID), key, fn)
	if err != nil {
		return err
	}
	if v == nil {
		delete(sess.Values, key)
	} else {
		sess.Values[key] = v
	}
	return nil
}

func (s *Store) updateSessionValue(ctx context.Context, idHash, key string, fn func(old any) any) (any, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: update session value: %w", err)
	}
	defer tx.Rollback()
	var data string
	err = tx.QueryRowContext(ctx, "SELECT data FROM sessions WHERE id_hash = ?"+s.forUpdate(), idHash).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: update session value: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: update session value: %w", err)
	}
	values, err := decodeValues(data)
	if err != nil {
		return nil, err
	}
	v := fn(values[key])
	if v == nil {
		delete(values, key)
	} else {
		values[key] = v
	}
	if data, err = encodeValues(values); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE sessions SET data = ? WHERE id_hash = ?", data, idHash); err != nil {
		return nil, fmt.Errorf("store: update session value: %w", err)
	}
	return v, commit(tx, "update session value")
}

// IDHash is the stable, non-secret handle of a session that other tables (pending
// OAuth flows) use to bind a row to one browser.
func IDHash(sess *sessions.Session) string {
	if sess == nil || sess.ID == "" {
		return ""
	}
	return hashID(sess.ID)
}

func (ss *SessionStore) sign(id string) string {
	m := hmac.New(sha256.New, ss.key)
	m.Write([]byte(id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (ss *SessionStore) verify(v string) (string, bool) {
	id, sig, ok := strings.Cut(v, ".")
	if !ok || len(id) != 43 {
		return "", false
	}
	want := ss.sign(id)
	return id, hmac.Equal([]byte(want), []byte(id+"."+sig))
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: new session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashID is how a secret id (a session id, an OAuth state, a connect-link
// token) is stored and looked up: its SHA-256, never the id itself.
func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// encodeValues stores gorilla's map[any]any as a JSON object with string keys.
func encodeValues(values map[interface{}]interface{}) (string, error) {
	m := make(map[string]interface{}, len(values))
	for k, v := range values {
		ks, ok := k.(string)
		if !ok {
			return "", fmt.Errorf("store: session key %v is not a string", k)
		}
		m[ks] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("store: encode session: %w", err)
	}
	return string(b), nil
}

func decodeValues(data string) (map[interface{}]interface{}, error) {
	var m map[string]interface{}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("store: decode session: %w", err)
	}
	out := make(map[interface{}]interface{}, len(m))
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = i
			}
		}
		out[k] = v
	}
	return out, nil
}

func sessionUser(values map[interface{}]interface{}) sql.NullInt64 {
	if id, ok := values[SessionUserKey].(int64); ok {
		return sql.NullInt64{Int64: id, Valid: true}
	}
	return sql.NullInt64{}
}

func sessionKind(values map[interface{}]interface{}) string {
	if k, ok := values[SessionKindKey].(string); ok && k != "" {
		return k
	}
	return SessionConsole
}

// loadSession returns a live session's values and when it was last seen; a
// session past its absolute or idle lifetime is ErrNotFound (the sweeper deletes it).
func (s *Store) loadSession(ctx context.Context, idHash string, now time.Time, idle time.Duration) (map[interface{}]interface{}, time.Time, error) {
	var data string
	var lastSeen int64
	err := s.read.QueryRowContext(ctx,
		"SELECT data, last_seen_at FROM sessions WHERE id_hash = ? AND expires_at > ? AND last_seen_at > ?",
		idHash, millis(now), millis(now.Add(-idle))).Scan(&data, &lastSeen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("store: load session: %w", err)
	}
	values, err := decodeValues(data)
	return values, fromMillis(lastSeen), err
}

func (s *Store) insertSession(ctx context.Context, idHash string, values map[interface{}]interface{}, now, expires time.Time) error {
	data, err := encodeValues(values)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, kind, data, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, idHash, sessionUser(values), sessionKind(values), data, millis(now), millis(now), millis(expires))
	if err != nil {
		return fmt.Errorf("store: insert session: %w", err)
	}
	return nil
}

func (s *Store) updateSession(ctx context.Context, idHash string, values map[interface{}]interface{}, now time.Time) error {
	data, err := encodeValues(values)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, "UPDATE sessions SET data = ?, user_id = ?, kind = ?, last_seen_at = ? WHERE id_hash = ?",
		data, sessionUser(values), sessionKind(values), millis(now), idHash)
	if err != nil {
		return fmt.Errorf("store: update session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: update session: %w", ErrNotFound)
	}
	return nil
}

func (s *Store) sessionExpiry(ctx context.Context, idHash string) (time.Time, error) {
	var exp int64
	err := s.write.QueryRowContext(ctx, "SELECT expires_at FROM sessions WHERE id_hash = ?", idHash).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("store: session expiry: %w", ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: session expiry: %w", err)
	}
	return fromMillis(exp), nil
}

// touchSession moves last_seen_at forward; New calls it at most once per
// touchEvery for a busy session.
func (s *Store) touchSession(ctx context.Context, idHash string, now time.Time) error {
	if _, err := s.write.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", millis(now), idHash); err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

func (s *Store) deleteSession(ctx context.Context, idHash string) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user (disabled, or password changed).
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.write.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("store: delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// SweepSessions deletes sessions past their absolute or idle lifetime and
// returns how many went.
func (s *Store) SweepSessions(ctx context.Context, idle time.Duration) (int64, error) {
	now := s.now()
	n, err := s.exclusive(ctx, "sweep-sessions", "DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?",
		millis(now), millis(now.Add(-idle)))
	if err != nil {
		return 0, fmt.Errorf("store: sweep sessions: %w", err)
	}
	return n, nil
}

// CountSessions returns the number of session rows (tests and metrics).
func (s *Store) CountSessions(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count sessions: %w", err)
	}
	return n, nil
}
