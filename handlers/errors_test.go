package handlers

import (
	"net/http"
	"testing"

	"airlock/oauthflow"
)

// TestEveryCodeHasOneStatus: each code of the lifecycle has exactly one row
// in the one table, and echo's statuses read back as the API's codes.
func TestEveryCodeHasOneStatus(t *testing.T) {
	codes := []string{oauthflow.CodeNotFound, oauthflow.CodeInvalidFields, oauthflow.CodeConflict, oauthflow.CodeForbidden,
		oauthflow.CodeNeedsReconnect, oauthflow.CodeTokenUnavailable, oauthflow.CodeUpstreamUnreachable, oauthflow.CodeUpstreamTimeout,
		oauthflow.CodeStorageUnavailable, oauthflow.CodeBadRequest, oauthflow.CodeGone}
	for _, code := range codes {
		n := 0
		for _, cs := range codeStatuses {
			if cs.code == code {
				n++
			}
		}
		if n != 1 || statusFor(code) == http.StatusInternalServerError {
			t.Errorf("%s: %d rows, status %d; want one row with its own status", code, n, statusFor(code))
		}
	}
	for status, want := range map[int]string{400: "bad_json", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
		409: "conflict", 413: "too_large", 418: "bad_request", 503: "internal"} {
		if got := codeFor(status); got != want {
			t.Errorf("codeFor(%d): got %s, want %s", status, got, want)
		}
	}
}
