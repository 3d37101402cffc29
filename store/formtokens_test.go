package store

import (
	"bytes"
	"testing"
	"time"
)

func TestFormTokens(t *testing.T) {
	s := openTest(t)
	ss := s.NewSessionStore(bytes.Repeat([]byte{3}, 32), false)
	other := s.NewSessionStore(bytes.Repeat([]byte{4}, 32), false)
	now := time.Unix(1_800_000_000, 0)
	id := "Q0fVh9m3f2yZqR1hYQv2sO8m1Kx5pJtXwN4cLbA7eDg"
	tok := ss.FormToken(id, now)
	cases := []struct {
		name  string
		ss    *SessionStore
		id    string
		token string
		at    time.Time
		want  bool
	}{
		{"its own id, at once", ss, id, tok, now, true},
		{"its own id, 11 h later", ss, id, tok, now.Add(11 * time.Hour), true},
		{"past the lifetime", ss, id, tok, now.Add(12*time.Hour + time.Second), false},
		{"made in the future", ss, id, tok, now.Add(-2 * time.Minute), false},
		{"another id", ss, id[:42] + "x", tok, now, false},
		{"another key", other, id, tok, now, false},
		{"no id", ss, "", tok, now, false},
		{"tampered time", ss, id, "1800000001" + tok[10:], now, false},
		{"the cookie signature instead", ss, id, "1800000000." + ss.sign(id)[44:], now, false},
		{"garbage", ss, id, "nonsense", now, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ss.CheckFormToken(tc.id, tc.token, tc.at, 12*time.Hour); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
