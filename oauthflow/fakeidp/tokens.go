package fakeidp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// token exchanges a code: the client's credentials (Basic or in the form),
// the same redirect URI, the PKCE verifier of the challenge, once.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.TokenRequests.Add(1)
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || secret != p.clientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	g, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	case !found || p.now().After(g.expires) || g.redirect != r.PostForm.Get("redirect_uri") || g.clientID != id:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
		return
	}
	access := token(32)
	idToken, err := p.idToken(g)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": err.Error()})
		return
	}
	p.mu.Lock()
	p.access[access] = g.user
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

// idToken signs the ID token of a grant with the current signing key.
func (p *Provider) idToken(g grant) (string, error) {
	p.mu.Lock()
	b, signer := p.b, p.signer
	iss := p.issuer()
	p.mu.Unlock()
	if b.TokenIssuer != "" {
		iss = b.TokenIssuer
	}
	ttl := b.TokenTTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	now := p.now()
	claims := map[string]any{"iss": iss, "sub": g.user.Subject, "aud": g.clientID, "iat": now.Unix(),
		"exp": now.Add(ttl).Unix(), "nonce": g.nonce, "email": g.user.Email, "email_verified": true}
	if b.Audience != nil {
		claims["aud"] = b.Audience
	}
	if g.user.Groups != nil && !b.GroupsInUserinfo {
		claims[groupsClaim(b)] = g.user.Groups
	}
	if b.Tamper != nil {
		b.Tamper(claims)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: signer},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

func groupsClaim(b Behaviour) string {
	if b.GroupsClaim != "" {
		return b.GroupsClaim
	}
	return "groups"
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	const prefix = "Bearer "
	auth := r.Header.Get("Authorization")
	p.mu.Lock()
	u, ok := p.access[auth[min(len(prefix), len(auth)):]]
	b := p.b
	p.mu.Unlock()
	if len(auth) <= len(prefix) || auth[:len(prefix)] != prefix || !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
		return
	}
	out := map[string]any{"sub": u.Subject, "email": u.Email}
	if b.UserinfoSubject != "" {
		out["sub"] = b.UserinfoSubject
	}
	if b.GroupsInUserinfo && u.Groups != nil {
		out[groupsClaim(b)] = u.Groups
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
