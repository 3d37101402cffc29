package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/sessions"
)

// A browser that nobody has signed in with has no session row: a page that
// anonymous visitors can load (sign-in, setup, the callback's error pages)
// must not write to the database, or a flood of cookieless GETs fills it.
// Such a browser still gets the session cookie — a signed random id with no
// row behind it — and its forms carry a token derived from that id (below),
// so the CSRF check works the same way with or without a row. The row is made
// when something must be remembered: at sign-in (with a new id), a flash
// message, a pending OAuth flow.

// BrowserID returns the id in the request's session cookie when its
// signature is valid, whether or not a session row exists for it.
func (ss *SessionStore) BrowserID(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return ss.verify(c.Value)
}

// SetBrowserCookie gives a browser a fresh signed id with no row behind it,
// living as long as a session can.
func (ss *SessionStore) SetBrowserCookie(w http.ResponseWriter, name string) (string, error) {
	id, err := newSessionID()
	if err != nil {
		return "", err
	}
	opts := ss.Options
	opts.MaxAge = int(ss.Lifetimes.Absolute.Seconds())
	http.SetCookie(w, sessions.NewCookie(name, ss.sign(id), &opts))
	return id, nil
}

// FormToken returns a CSRF token for the browser whose cookie holds id: the
// time and an HMAC of the id and the time. It needs no row, holds on every
// process that shares the session key, and cannot be made for a cookie one
// has not seen — an attacker can get a token for a cookie of their own, but
// the victim's browser sends the victim's cookie, for which that token is
// wrong.
func (ss *SessionStore) FormToken(id string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + ss.formMAC(id, ts)
}

// CheckFormToken reports whether token was made by FormToken for id at most
// maxAge ago (and not in the future, beyond a minute of clock skew).
func (ss *SessionStore) CheckFormToken(id, token string, now time.Time, maxAge time.Duration) bool {
	ts, mac, ok := strings.Cut(token, ".")
	if !ok || id == "" {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	at := time.Unix(sec, 0)
	if at.After(now.Add(time.Minute)) || now.Sub(at) > maxAge {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(ss.formMAC(id, ts)))
}

// formMAC is keyed with a key derived from the session key for this one use,
// so a form token can never pass for a cookie signature or the reverse.
func (ss *SessionStore) formMAC(id, ts string) string {
	k := hmac.New(sha256.New, ss.key)
	k.Write([]byte("airlock form token v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(id + "|" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
