package oauthflow

import (
	"cmp"
	"context"
	"errors"
	"net/url"
)

// Revoke asks the revocation endpoint at target — the absolute URL recorded
// with the token, never one built from current values — to revoke one token
// (RFC 7009 §2.1): a POST form with token and token_type_hint, authenticated
// like the token endpoint. Any 2xx means done, also for a token the server
// did not know; a 503 or other 5xx is a temporary error; redirects are not
// followed. Any also values (the other token of the set) are kept out of
// the error like the token itself.
func (c *Client) Revoke(ctx context.Context, in Integration, values map[string]string, target, token, hint string, also ...string) error {
	const endpoint = "revocation endpoint"
	if target == "" {
		return configError(endpoint, "no revocation URL is recorded with the token")
	}
	if token == "" {
		return configError(endpoint, "there is no token to revoke")
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, secrets, err := newRequest(ctx, in, values, endpoint, target, "POST", form)
	if err != nil {
		return err
	}
	secrets.Values = append([]string{token}, also...)
	forms := secrets.forms()
	status, ct, body, err := c.do(req, endpoint, "revoke "+cmp.Or(hint, "token"), secrets)
	if err != nil {
		return scrubError(err, forms)
	}
	if status >= 200 && status < 300 {
		return nil
	}
	// An error answer reads like a token error answer (RFC 7009 §2.2.1).
	_, err = parseTokenResponse(status, ct, body, c.now(), func(s string, max int) string { return scrubN(s, forms, max) }, TokenResponsePaths{})
	var te *TokenError
	if !errors.As(err, &te) {
		te = &TokenError{Kind: statusKind(status), Status: status}
	}
	te.Endpoint = endpoint
	return scrubError(te, forms)
}

// RevokeAll revokes a token set at the revocation endpoint recorded with it
// (t.Endpoints.Revoke): the refresh token first (revoking it usually takes
// the access tokens with it), then the access token, trying both even when
// the first fails. values fill in the client id and secret: they must be the
// values the set was obtained with. revoked is true when every attempted
// revocation got a 2xx; with no recorded revocation URL, or no token,
// nothing is attempted and it is (false, nil). Callers delete local tokens
// whatever the answer.
func (c *Client) RevokeAll(ctx context.Context, in Integration, values map[string]string, t Token) (revoked bool, err error) {
	target := t.Endpoints.Revoke
	if target == "" {
		return false, nil
	}
	var errs []error
	attempted := 0
	if t.RefreshToken != "" {
		attempted++
		errs = append(errs, c.Revoke(ctx, in, values, target, t.RefreshToken, "refresh_token", t.AccessToken))
	}
	if t.AccessToken != "" {
		attempted++
		errs = append(errs, c.Revoke(ctx, in, values, target, t.AccessToken, "access_token", t.RefreshToken))
	}
	err = errors.Join(errs...)
	return attempted > 0 && err == nil, err
}
