package oauthflow

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelayDoublesWithJitterUpToFiveMinutes(t *testing.T) {
	cases := []struct {
		failures   int
		retryAfter time.Duration
		want       time.Duration // before jitter
	}{
		{1, 0, time.Second},
		{2, 0, 2 * time.Second},
		{3, 0, 4 * time.Second},
		{9, 0, 256 * time.Second},
		{10, 0, 5 * time.Minute},
		{60, 0, 5 * time.Minute},
		{1, 30 * time.Second, 30 * time.Second}, // at least Retry-After
		{1, 3 * time.Hour, time.Hour},           // a Retry-After past an hour is read as one
	}
	for _, tc := range cases {
		for range 50 {
			got := backoffDelay(tc.failures, tc.retryAfter)
			lo, hi := time.Duration(float64(tc.want)*0.8), time.Duration(float64(tc.want)*1.2)
			if tc.retryAfter > 0 {
				lo = tc.want // Retry-After is a floor, never shrunk by jitter
			}
			if got < lo || got > hi {
				t.Fatalf("failure %d, Retry-After %v: got %v, want %v…%v", tc.failures, tc.retryAfter, got, lo, hi)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Second},
		{" 120 ", 2 * time.Minute},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"", 0},
		{"999999999", time.Hour},
	}
	for _, tc := range cases {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q): got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNotATokenIsTemporaryOnlyWhenTheEndpointWorkedBefore(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"HTML", 200, "<html><body>Maintenance</body></html>"},
		{"garbage", 200, "Zm9vYmFy!!"},
		{"empty object", 200, "{}"},
	}
	for _, tc := range cases {
		for _, worked := range []bool{false, true} {
			_, err := ParseTokenResponse(tc.status, "", []byte(tc.body), now)
			err = notATokenBeforeWorked(err, worked)
			want := KindConfig
			if worked {
				want = KindTemporary
			}
			if got := Classify(err); got != want {
				t.Errorf("%s, worked before %v: got %v (%v), want %v", tc.name, worked, got, err, want)
			}
			if worked && !strings.Contains(err.Error(), "issued this account tokens before") {
				t.Errorf("%s: message %q does not say why it is taken as temporary", tc.name, err)
			}
		}
	}
	// An OAuth error in a 200 keeps its own meaning.
	_, err := ParseTokenResponse(200, "application/json", []byte(`{"error":"invalid_client"}`), now)
	if got := Classify(notATokenBeforeWorked(err, true)); got != KindConfig {
		t.Errorf("200 invalid_client: got %v, want config", got)
	}
}

func TestBackoffErrorIsTokenUnavailableAndItsCause(t *testing.T) {
	now := time.Now()
	last := &TokenError{Kind: KindTemporary, Status: 503}
	err := error(&BackoffError{Failures: 3, Until: now.Add(4 * time.Second), Last: last, now: now})
	var te *TokenError
	if !errors.Is(err, ErrTokenUnavailable) || !errors.As(err, &te) || Classify(err) != KindTemporary {
		t.Errorf("got Is(ErrTokenUnavailable)=%v As(TokenError)=%v kind %v, want true, true, temporary",
			errors.Is(err, ErrTokenUnavailable), errors.As(err, &te), Classify(err))
	}
	if msg := err.Error(); !strings.Contains(msg, "3 refreshes in a row failed") || !strings.Contains(msg, "answered 503") || !strings.Contains(msg, "due in 4 s") {
		t.Errorf("message %q: want the count, the last failure and when the next attempt is due", msg)
	}
}
