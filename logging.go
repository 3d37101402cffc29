package main

import (
	"io"
	"log/slog"
	"strings"
)

// newLogger builds the process logger, writing lines at level and above
// (AIRLOCK_LOG_LEVEL). Attributes whose key names a secret are replaced by
// "[redacted]" whatever their value, as a last line of defence behind the
// habit of never logging secrets in the first place.
func newLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, "[redacted]")
	}
	return a
}

// sensitiveKey matches Authorization, Cookie, code, state, code_verifier,
// client_secret, password and every *_token / *token key.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	switch k {
	case "authorization", "cookie", "set-cookie", "code", "state", "code_verifier", "client_secret", "password", "secret", "token":
		return true
	}
	return strings.HasSuffix(k, "_token") || strings.HasSuffix(k, "-token") || strings.HasSuffix(k, "_secret")
}
