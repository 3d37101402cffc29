package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/store"
	"airlock/views"
)

// keyCache keeps API key lookups off the disk: entries (found or not) live
// keyCacheTTL, and disabling a key drops its entry at once. The TTL bounds how
// long another process's change (the CLI, a second server) takes to be seen.
type keyCache struct {
	mu sync.Mutex
	m  map[string]keyEntry
}

type keyEntry struct {
	key     store.APIKey
	found   bool
	fetched time.Time
}

const (
	keyCacheTTL  = 30 * time.Second
	keyCacheMax  = 10000 // bounds memory against floods of random keys
	keyTouchEach = time.Minute
)

func (kc *keyCache) get(hash string, now time.Time) (keyEntry, bool) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	e, ok := kc.m[hash]
	if !ok || now.Sub(e.fetched) > keyCacheTTL {
		return keyEntry{}, false
	}
	return e, true
}

func (kc *keyCache) put(hash string, e keyEntry) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.m == nil || len(kc.m) >= keyCacheMax {
		kc.m = map[string]keyEntry{}
	}
	kc.m[hash] = e
}

// markUsed records a use in the cache and reports whether the database's
// last-used time is due for an update (at most once a minute per key).
func (kc *keyCache) markUsed(hash string, now time.Time) bool {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	e, ok := kc.m[hash]
	if !ok || now.Sub(e.key.LastUsedAt) < keyTouchEach {
		return false
	}
	e.key.LastUsedAt = now
	kc.m[hash] = e
	return true
}

func (kc *keyCache) forget(hash string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	delete(kc.m, hash)
}

// requireKey is the API's gate: a Bearer API key whose role allows p.
// Cookies are never consulted.
func (h *Handler) requireKey(p perm) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			k, err := h.apiKey(c)
			if err != nil {
				return err
			}
			c.Set(ctxIdentity, identity{KeyID: k.ID, KeyName: k.Name, Role: k.Role})
			h.setActor(c, identity{KeyID: k.ID, KeyName: k.Name})
			if !allows(k.Role, p) {
				return apiErr("forbidden",
					"This API key has the "+k.Role+" role; this action needs "+p.String()+".", nil)
			}
			return next(c)
		}
	}
}

// apiKey authenticates the request's Bearer key, from the cache when it can.
func (h *Handler) apiKey(c echo.Context) (store.APIKey, error) {
	auth := c.Request().Header.Get("Authorization")
	scheme, key, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return store.APIKey{}, apiErr("unauthorized",
			"Send an API key as \"Authorization: Bearer <key>\"; admins create keys in Settings.", nil)
	}
	hash := store.HashAPIKey(strings.TrimSpace(key))
	now := h.now()
	e, ok := h.keys.get(hash, now)
	if !ok {
		k, err := h.store.APIKeyByHash(c.Request().Context(), hash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.APIKey{}, err
		}
		e = keyEntry{key: k, found: err == nil, fetched: now}
		h.keys.put(hash, e)
	}
	if !e.found || e.key.Disabled() {
		return store.APIKey{}, apiErr("unauthorized",
			"This API key is unknown or disabled. Check the key, or ask an admin for a new one.", nil)
	}
	// Checked against the clock on every request, cached or not: the cache
	// may hold a key for 30 s, its expiry holds to the millisecond.
	if e.key.Expired(now) {
		return store.APIKey{}, apiErr("unauthorized",
			"This API key expired at "+e.key.ExpiresAt.Format(time.RFC3339)+". Ask an admin for a new one.", nil)
	}
	if h.keys.markUsed(hash, now) {
		id := e.key.ID
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.store.TouchAPIKey(ctx, id, now); err != nil {
				h.log.Warn("record api key use", "key_id", id, "err", err)
			}
		}()
	}
	return e.key, nil
}

// whoami tells an API client which key it is using.
func (h *Handler) whoami(c echo.Context) error {
	id, _ := currentIdentity(c)
	return c.JSON(http.StatusOK, map[string]string{"name": id.KeyName, "role": id.Role})
}

// apiKeyCreate makes a key and shows it once; only its hash is stored.
func (h *Handler) apiKeyCreate(c echo.Context) error {
	f := views.APIKeyForm{Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role"),
		Expires: c.FormValue("expires"), Errors: map[string]string{}}
	if f.Name == "" || len(f.Name) > 100 {
		f.Errors["name"] = "Give the key a name of 1 to 100 characters, such as the service that will use it."
	}
	if !store.ValidRole(f.Role) {
		f.Errors["role"] = "Choose a role: admin, builder or viewer."
	}
	days, ok := keyLifetimes[f.Expires]
	if !ok {
		f.Errors["expires"] = "Choose when the key expires: after 30, 90 or 365 days, or never."
	}
	if len(f.Errors) > 0 {
		return h.renderSettings(c, http.StatusUnprocessableEntity, f, nil)
	}
	var expires time.Time
	if days > 0 {
		expires = h.now().AddDate(0, 0, days)
	}
	me, _ := currentIdentity(c)
	key, hash, last4 := store.NewAPIKey()
	k, err := h.store.CreateExpiringAPIKey(c.Request().Context(), f.Name, f.Role, hash, last4, me.Label(), expires)
	if err != nil {
		return err
	}
	h.log.Info("api key created", "key_id", k.ID, "role", k.Role, "expires_at", k.ExpiresAt, "by", me.Label())
	return h.renderSettings(c, http.StatusOK, newKeyForm(),
		&views.CreatedKey{Name: k.Name, Role: k.Role, Key: key, Expires: k.ExpiresAt})
}

// keyLifetimes are the create-key form's choices, in days (0: never). An
// absent field is "never", as before the form offered a choice.
var keyLifetimes = map[string]int{"30": 30, "90": 90, "365": 365, "never": 0, "": 0}

// apiKeyDelete removes a key, from this process's cache too.
func (h *Handler) apiKeyDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	k, err := h.store.DeleteAPIKey(c.Request().Context(), id)
	if err != nil {
		return err
	}
	h.keys.forget(k.Hash)
	me, _ := currentIdentity(c)
	h.log.Info("api key deleted", "key_id", k.ID, "by", me.Label())
	if err := h.flash(c, "success", "API key \""+k.Name+"\" is deleted."); err != nil {
		return err
	}
	return seeOther(c, "/settings")
}

// apiKeyDisable stops a key at once, in this process's cache too.
func (h *Handler) apiKeyDisable(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.ErrNotFound
	}
	k, err := h.store.DisableAPIKey(c.Request().Context(), id)
	if err != nil {
		return err
	}
	h.keys.forget(k.Hash)
	me, _ := currentIdentity(c)
	h.log.Info("api key disabled", "key_id", k.ID, "by", me.Label())
	if err := h.flash(c, "success", "API key \""+k.Name+"\" is disabled."); err != nil {
		return err
	}
	return seeOther(c, "/settings")
}
