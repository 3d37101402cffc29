package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestErrorOfGivesEveryTypedErrorItsCode(t *testing.T) {
	coded := &Error{Code: CodeConflict, Message: "taken"}
	tests := []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"an Error as it is", fmt.Errorf("wrapped: %w", coded), CodeConflict, "taken"},
		{"a refused request", &RequestError{Field: "url", Msg: "outside the base URLs"}, CodeInvalidFields, "outside the base URLs"},
		{"an API that timed out", &UpstreamError{Timeout: true, Err: context.DeadlineExceeded}, CodeUpstreamTimeout, "The API did not answer in time: check the URL, or try again later"},
		{"an API that was not reached", &UpstreamError{Err: errors.New("refused")}, CodeUpstreamUnreachable, "The API could not be reached: refused"},
		{"an API host that does not resolve", &UpstreamError{Err: fmt.Errorf("dial guard: resolve api.nope.invalid: %w", &net.DNSError{Name: "api.nope.invalid", Err: "no such host", IsNotFound: true})},
			CodeUpstreamUnreachable, "The API host api.nope.invalid could not be found (DNS): check the URL"},
		{"an API address the dial guard refused", &UpstreamError{Err: fmt.Errorf("connect to 10.0.0.1: %w", ErrRefusedAddress)},
			CodeUpstreamUnreachable, "Airlock refused to connect to the API: its address is loopback, private or link-local (use its public address, or set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true"},
		{"a dead grant", fmt.Errorf("%w: invalid_grant", ErrNeedsReconnect), CodeNeedsReconnect, "the account needs to be reconnected: invalid_grant"},
		{"a wrong configuration", &TokenError{Kind: KindConfig, Code: "invalid_client"}, CodeNeedsReconnect, ""},
		{"a token endpoint failing", &TokenError{Kind: KindTemporary, Status: 503}, CodeTokenUnavailable, "The account's token could not be had: "},
		{"refreshes paused", fmt.Errorf("%w: paused", ErrTokenUnavailable), CodeTokenUnavailable, "The account's token could not be had: "},
		{"field errors", FieldErrors{"name": "Name is required"}, CodeInvalidFields, "Some fields are not valid: see fields."},
		{"no such row", fmt.Errorf("store: get account: %w", ErrNotFound), CodeNotFound, ""},
		{"a uniqueness rule", fmt.Errorf("store: %w", ErrConflict), CodeConflict, ""},
		{"anything else", errors.New("disk on fire"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ErrorOf(tt.err)
			if e.Code != tt.code || CodeOf(tt.err) != tt.code {
				t.Errorf("code: got %q (CodeOf %q), want %q", e.Code, CodeOf(tt.err), tt.code)
			}
			if !strings.HasPrefix(e.Message, tt.msg) {
				t.Errorf("message: got %q, want it to start with %q", e.Message, tt.msg)
			}
			if e.Err == nil && e != tt.err && !errors.Is(tt.err, e) {
				t.Errorf("the error lost its cause %v", tt.err)
			}
		})
	}
	if ErrorOf(nil) != nil || CodeOf(nil) != "" {
		t.Error("nil: want nil and no code")
	}
}
