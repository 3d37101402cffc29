package oauthflow

import (
	"context"
	"errors"
	"net/url"
)

// Revoke asks the revocation endpoint to revoke one token (RFC 7009 §2.1):
// a POST form with token and token_type_hint, authenticated like the token
// endpoint. Any 2xx means done, also for a token the server did not know; a
// 503 or other 5xx is a temporary error; redirects are not followed.
func (c *Client) Revoke(ctx context.Context, in Integration, values map[string]string, token, hint string) error {
	const endpoint = "revocation endpoint"
	if in.OAuth2.RevokeURL == "" {
		return configError(endpoint, "the integration has no revocation URL")
	}
	if token == "" {
		return configError(endpoint, "there is no token to revoke")
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, secret, err := c.newRequest(ctx, in, values, endpoint, in.OAuth2.RevokeURL, "POST", form)
	if err != nil {
		return err
	}
	sensitive := []string{token, secret}
	status, ct, body, err := c.do(req, endpoint)
	if err != nil {
		return redactError(err, sensitive)
	}
	if status >= 200 && status < 300 {
		return nil
	}
	// An error answer reads like a token error answer (RFC 7009 §2.2.1).
	_, err = ParseTokenResponse(status, ct, redactBody(body, sensitive), c.now())
	var te *TokenError
	if !errors.As(err, &te) {
		te = &TokenError{Kind: statusKind(status), Status: status}
	}
	te.Endpoint = endpoint
	return redactError(te, sensitive)
}

// RevokeAll revokes the refresh token first (revoking it usually takes the
// access tokens with it), then the access token, and tries both even when
// the first fails. revoked is true when every attempted revocation got a
// 2xx; with no revocation URL, or no token, nothing is attempted and it is
// (false, nil). Callers delete local tokens whatever the answer.
func (c *Client) RevokeAll(ctx context.Context, in Integration, values map[string]string, t Token) (revoked bool, err error) {
	if in.OAuth2.RevokeURL == "" {
		return false, nil
	}
	var errs []error
	attempted := 0
	if t.RefreshToken != "" {
		attempted++
		errs = append(errs, c.Revoke(ctx, in, values, t.RefreshToken, "refresh_token"))
	}
	if t.AccessToken != "" {
		attempted++
		errs = append(errs, c.Revoke(ctx, in, values, t.AccessToken, "access_token"))
	}
	err = errors.Join(errs...)
	return attempted > 0 && err == nil, err
}
