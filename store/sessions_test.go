package store

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"
)

// saveNew saves a new session holding values and returns its cookie.
func saveNew(t *testing.T, ss *SessionStore, values map[any]any) *http.Cookie {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	sess, err := ss.Get(r, "airlock_session")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	w := httptest.NewRecorder()
	if err := ss.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies set: got %d, want 1", len(cs))
	}
	return cs[0]
}

func load(t *testing.T, ss *SessionStore, c *http.Cookie) (map[any]any, bool) {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if c != nil {
		r.AddCookie(c)
	}
	sess, err := ss.Get(r, "airlock_session")
	if err != nil {
		t.Fatal(err)
	}
	return sess.Values, !sess.IsNew
}

func TestSessionCookieHoldsOnlyASignedID(t *testing.T) {
	s, _ := openClocked(t)
	ss := s.NewSessionStore(testKey(3), true)
	big := strings.Repeat("flash message ", 500)
	c := saveNew(t, ss, map[any]any{"_csrf": "tok", "_flash": []any{big}, SessionUserKey: int64(7)})

	header := (&http.Cookie{Name: c.Name, Value: c.Value}).String()
	if len(header) >= 200 {
		t.Errorf("cookie size: got %d bytes, want < 200", len(header))
	}
	if strings.Contains(c.Value, "tok") || strings.Contains(c.Value, "flash") {
		t.Errorf("cookie value carries session data: %q", c.Value)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie attributes: got HttpOnly=%v Secure=%v SameSite=%v Path=%q, want true true Lax /", c.HttpOnly, c.Secure, c.SameSite, c.Path)
	}
	if c.MaxAge <= 0 || c.MaxAge > int((12*time.Hour).Seconds()) {
		t.Errorf("cookie Max-Age: got %d, want within 12 h", c.MaxAge)
	}
	vals, ok := load(t, ss, c)
	if !ok || vals["_csrf"] != "tok" || vals[SessionUserKey] != int64(7) {
		t.Errorf("loaded values: got %v (found=%v), want _csrf=tok and user 7", vals, ok)
	}
	if fl, _ := vals["_flash"].([]any); len(fl) != 1 || fl[0] != big {
		t.Errorf("flash did not round-trip through the database")
	}
}

func TestSessionRejectsTamperedCookie(t *testing.T) {
	s, _ := openClocked(t)
	ss := s.NewSessionStore(testKey(3), false)
	c := saveNew(t, ss, map[any]any{"_csrf": "tok"})
	id, sig, _ := strings.Cut(c.Value, ".")
	forged := []string{
		id + "." + strings.Repeat("A", len(sig)),
		strings.Repeat("B", len(id)) + "." + sig,
		id,
		"",
		"garbage",
	}
	for _, v := range forged {
		if _, ok := load(t, ss, &http.Cookie{Name: c.Name, Value: v}); ok {
			t.Errorf("forged cookie %q was accepted", v)
		}
	}
	other := s.NewSessionStore(testKey(4), false)
	if _, ok := load(t, other, c); ok {
		t.Error("cookie signed with another session key was accepted")
	}
}

func TestSessionLifetimes(t *testing.T) {
	cases := []struct {
		name  string
		steps []time.Duration // requests at these intervals
		kind  string
		alive bool
	}{
		{"active within idle", []time.Duration{90 * time.Minute, 90 * time.Minute}, SessionConsole, true},
		{"idle too long", []time.Duration{2*time.Hour + time.Minute}, SessionConsole, false},
		{"absolute limit despite activity", []time.Duration{100 * time.Minute, 100 * time.Minute, 100 * time.Minute, 100 * time.Minute, 100 * time.Minute, 100 * time.Minute, 100 * time.Minute, 100 * time.Minute}, SessionConsole, false},
		{"connect session within 30 min", []time.Duration{29 * time.Minute}, SessionConnect, true},
		{"connect session past 30 min", []time.Duration{31 * time.Minute}, SessionConnect, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clk := openClocked(t)
			ss := s.NewSessionStore(testKey(3), false)
			c := saveNew(t, ss, map[any]any{SessionKindKey: tc.kind})
			alive := true
			for _, d := range tc.steps {
				clk.Add(d)
				_, alive = load(t, ss, c)
				if !alive {
					break
				}
			}
			if alive != tc.alive {
				t.Errorf("alive: got %v, want %v", alive, tc.alive)
			}
		})
	}
}

func TestSweepSessions(t *testing.T) {
	s, clk := openClocked(t)
	ss := s.NewSessionStore(testKey(3), false)
	saveNew(t, ss, nil)
	clk.Add(time.Hour)
	fresh := saveNew(t, ss, nil)
	clk.Add(90 * time.Minute) // the first is now idle 2.5 h, the second 1.5 h
	n, err := s.SweepSessions(context.Background(), 2*time.Hour)
	if err != nil || n != 1 {
		t.Errorf("swept: got %d (%v), want 1", n, err)
	}
	if _, ok := load(t, ss, fresh); !ok {
		t.Error("the fresh session was swept")
	}
}

func TestRenewChangesIDAndKeepsValues(t *testing.T) {
	s, _ := openClocked(t)
	ss := s.NewSessionStore(testKey(3), false)
	c := saveNew(t, ss, map[any]any{"k": "v"})
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	sess, _ := ss.Get(r, "airlock_session")
	w := httptest.NewRecorder()
	if err := ss.Renew(r, w, sess); err != nil {
		t.Fatal(err)
	}
	nc := w.Result().Cookies()[0]
	if nc.Value == c.Value {
		t.Fatal("renew kept the same id")
	}
	if _, ok := load(t, ss, c); ok {
		t.Error("old id still works after renew")
	}
	if vals, ok := load(t, ss, nc); !ok || vals["k"] != "v" {
		t.Errorf("new id: got %v (found=%v), want k=v", vals, ok)
	}
}

func TestDeleteWithNegativeMaxAge(t *testing.T) {
	s, _ := openClocked(t)
	ss := s.NewSessionStore(testKey(3), false)
	c := saveNew(t, ss, nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	sess, _ := ss.Get(r, "airlock_session")
	sess.Options.MaxAge = -1
	if err := ss.Save(r, httptest.NewRecorder(), sess); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountSessions(context.Background()); n != 0 {
		t.Errorf("sessions after delete: got %d, want 0", n)
	}
}

// TestUpdateValueStartsFromTheStoredRow: two requests of one browser that
// loaded the session at the same time each add to a queued value; neither
// change is lost, and taking the queue empties it once.
func TestUpdateValueStartsFromTheStoredRow(t *testing.T) {
	s, _ := openClocked(t)
	ss := s.NewSessionStore(testKey(3), false)
	c := saveNew(t, ss, map[any]any{"_csrf": "tok"})
	load := func() *sessions.Session {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		sess, err := ss.Get(r, "airlock_session")
		if err != nil || sess.IsNew {
			t.Fatalf("load: %v new=%v", err, sess.IsNew)
		}
		return sess
	}
	a, b := load(), load() // two tabs, same moment
	ctx := context.Background()
	appendTo := func(msg string) func(any) any {
		return func(old any) any { q, _ := old.([]any); return append(q, msg) }
	}
	if err := ss.UpdateValue(ctx, a, "_flash", appendTo("one")); err != nil {
		t.Fatal(err)
	}
	if err := ss.UpdateValue(ctx, b, "_flash", appendTo("two")); err != nil {
		t.Fatal(err)
	}
	var taken []any
	ss.UpdateValue(ctx, load(), "_flash", func(old any) any { taken, _ = old.([]any); return nil })
	if len(taken) != 2 || taken[0] != "one" || taken[1] != "two" {
		t.Errorf("queued: got %v, want [one two]", taken)
	}
	var again []any
	ss.UpdateValue(ctx, load(), "_flash", func(old any) any { again, _ = old.([]any); return nil })
	if len(again) != 0 {
		t.Errorf("taken twice: %v", again)
	}
	if vals := load().Values; vals["_csrf"] != "tok" {
		t.Errorf("other values changed: %v", vals)
	}
}
