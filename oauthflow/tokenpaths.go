package oauthflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// standardFields reads a decoded token answer (JSON, or a form turned into a
// map of strings): each field where paths say, else under its standard name.
func standardFields(m map[string]any, paths TokenResponsePaths) tokenFields {
	f := tokenFields{
		expiresIn:        pick(m, paths.ExpiresIn, "expires_in"),
		scope:            pick(m, paths.Scope, "scope"),
		refreshExpiresIn: m["refresh_token_expires_in"],
	}
	if f.expiresIn == nil {
		f.expiresIn = m["expires"] // old Facebook-style name
	}
	if paths.ExpiresAt != "" {
		f.expiresAt, _ = LookupPath(m, paths.ExpiresAt)
	}
	f.accessToken, _ = pick(m, paths.AccessToken, "access_token").(string) // a number is no token
	f.refreshToken, _ = pick(m, paths.RefreshToken, "refresh_token").(string)
	f.tokenType, _ = m["token_type"].(string)
	for k := range m {
		f.keys = append(f.keys, k)
	}
	sort.Strings(f.keys)
	return f
}

// pick is the value at path when it finds one (not null), else m[standard].
func pick(m map[string]any, path, standard string) any {
	if path != "" {
		if v, ok := LookupPath(m, path); ok && v != nil {
			return v
		}
	}
	return m[standard]
}

// stringish is a string value or a number's text; "" for anything else.
func stringish(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// expiry is the token's expiry: the absolute expires_at when the answer has
// a usable one, else now + expires_in; zero when neither says.
func (f tokenFields) expiry(now time.Time, format string) time.Time {
	if at, ok := parseExpiresAt(f.expiresAt, format, now); ok {
		return at
	}
	if secs, ok := parseExpiresIn(f.expiresIn); ok {
		return now.Add(time.Duration(secs * float64(time.Second)))
	}
	return time.Time{}
}

// parseExpiresAt reads an absolute expiry: seconds or milliseconds since
// 1970 (a number or a string holding one), or an RFC 3339 string. Like
// expires_in, one that is not in the future, or more than ten years away,
// counts as unknown.
func parseExpiresAt(v any, format string, now time.Time) (time.Time, bool) {
	s := strings.TrimSpace(stringish(v))
	if s == "" {
		return time.Time{}, false
	}
	var at time.Time
	switch format {
	case ExpiresAtRFC3339:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, false
		}
		at = t
	case "", ExpiresAtUnix, ExpiresAtUnixMS:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) || n <= 0 {
			return time.Time{}, false
		}
		if format == ExpiresAtUnixMS {
			n /= 1000
		}
		if n > float64(now.Unix())+maxExpiresIn {
			return time.Time{}, false
		}
		at = time.Unix(0, int64(n*float64(time.Second)))
	default:
		return time.Time{}, false
	}
	if !at.After(now) || at.Sub(now) > maxExpiresIn*time.Second {
		return time.Time{}, false
	}
	return at, true
}

// jsonBody replaces a POST token request's form body with the same
// parameters as a JSON object of strings (oauth2.token_body "json"): the
// client credentials, when sent in the body, go in it too.
func jsonBody(req *http.Request, form url.Values) error {
	m := make(map[string]string, len(form))
	for k, v := range form {
		if len(v) > 0 {
			m[k] = v[0]
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return &TokenError{Kind: KindConfig, Endpoint: "token endpoint", Err: fmt.Errorf("encode the JSON body: %w", err)}
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.Header.Set("Content-Type", "application/json")
	return nil
}
