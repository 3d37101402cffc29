package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want ErrorKind
	}{
		{"nil", nil, KindNone},
		{"token error", &TokenError{Kind: KindInvalidGrant}, KindInvalidGrant},
		{"wrapped token error", fmt.Errorf("refresh: %w", &TokenError{Kind: KindConfig}), KindConfig},
		{"refused address", fmt.Errorf("x: %w", ErrRefusedAddress), KindConfig},
		{"deadline", context.DeadlineExceeded, KindTemporary},
		{"net op error", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, KindTemporary},
		{"unexpected EOF", io.ErrUnexpectedEOF, KindTemporary},
		{"unknown", errors.New("something"), KindTemporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if !IsInvalidGrant(&TokenError{Kind: KindInvalidGrant}) || IsInvalidGrant(&TokenError{Kind: KindConfig}) {
		t.Errorf("got wrong IsInvalidGrant answers")
	}
}

func TestKindFor(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   ErrorKind
	}{
		{400, "invalid_grant", KindInvalidGrant},
		{401, "invalid_client", KindConfig},
		{400, "unauthorized_client", KindConfig},
		{400, "invalid_scope", KindConfig},
		{400, "unsupported_grant_type", KindConfig},
		{400, "invalid_request", KindConfig},
		{400, "", KindConfig},
		{401, "", KindConfig},
		{400, "something_new", KindConfig},
		{503, "temporarily_unavailable", KindTemporary},
		{200, "temporarily_unavailable", KindTemporary},
		{500, "", KindTemporary},
		{500, "invalid_grant", KindTemporary},
		{429, "", KindTemporary},
		{408, "", KindTemporary},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.code), func(t *testing.T) {
			if got := kindFor(tt.status, tt.code); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokenErrorMessage(t *testing.T) {
	inner := errors.New("dial tcp: timeout")
	tests := []struct {
		err  *TokenError
		want string
	}{
		{&TokenError{Kind: KindConfig, Code: "invalid_client", Status: 401},
			"the token endpoint answered 401 invalid_client: check the client id and secret, and whether the provider expects client authentication basic or body"},
		{&TokenError{Kind: KindInvalidGrant, Code: "invalid_grant", Description: "expired", Status: 400},
			"the token endpoint answered 400 invalid_grant (expired): the authorization is no longer valid (expired, revoked or already used); reconnect the account"},
		{&TokenError{Kind: KindTemporary, Err: inner},
			"the token endpoint call failed: dial tcp: timeout: the provider or the network failed; try again later"},
		{&TokenError{Kind: KindTemporary, Status: 502, BodyStart: "<html>", Endpoint: "revocation endpoint"},
			`the revocation endpoint answered 502, starting "<html>": the provider or the network failed; try again later`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(&TokenError{Err: inner}, inner) {
		t.Errorf("got Unwrap not reaching the inner error, want errors.Is to find it")
	}
}
