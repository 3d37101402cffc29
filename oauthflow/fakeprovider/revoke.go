package fakeprovider

import (
	"net/http"
)

// Revocation is one token revoked through the revocation endpoint.
type Revocation struct {
	// Token is the token as sent.
	Token string
	// Hint is the token_type_hint as sent ("" when none).
	Hint string
}

// handleRevoke is the revocation endpoint (RFC 7009): POST, client
// authentication as for the token endpoint (Options.ClientAuth), 200 for any
// well-authenticated request, even for a token it does not know.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if status, ok := p.recordRevokeCall(); ok {
		p.writeAnswer(w, status, map[string]any{"error": "server_error", "error_description": "Injected failure"})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		p.writeTokenError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request",
			"The revocation endpoint accepts only POST"}, false)
		return
	}
	_ = r.ParseForm()
	form := r.PostForm
	if p.opts.EchoCredentials {
		p.echoCredentials(w, r, form)
		return
	}
	if e, challenge := p.authenticateClient(r, form); e != nil {
		p.writeTokenError(w, e, challenge)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		p.writeTokenError(w, &oauthError{http.StatusBadRequest, "invalid_request", "Missing parameter: token"}, false)
		return
	}
	p.mu.Lock()
	p.revokeLocked(tok)
	p.revocations = append(p.revocations, Revocation{Token: tok, Hint: form.Get("token_type_hint")})
	p.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) recordRevokeCall() (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.revoke++
	if p.revokeFail.n <= 0 {
		return 0, false
	}
	p.revokeFail.n--
	return p.revokeFail.status, true
}
