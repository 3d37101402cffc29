package fakeprovider_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
)

func TestRotationReuseRevokesChain(t *testing.T) {
	p := start(t, fakeprovider.Options{RotateRefreshTokens: true})
	first := connect(t, p, "")
	second := refresh(t, p, first.get("refresh_token"))
	wantStatus(t, "refresh", second, http.StatusOK, "")
	rt2 := second.get("refresh_token")
	if rt2 == "" || rt2 == first.get("refresh_token") {
		t.Fatalf("rotated refresh token: got %q, want a new one", rt2)
	}
	if !p.ValidAccessToken(first.get("access_token")) || !p.ValidAccessToken(second.get("access_token")) {
		t.Fatalf("access tokens before reuse: got invalid, want valid")
	}

	reuse := refresh(t, p, first.get("refresh_token"))
	wantStatus(t, "reuse", reuse, http.StatusBadRequest, "invalid_grant")
	for _, tok := range []string{first.get("access_token"), second.get("access_token")} {
		if p.ValidAccessToken(tok) {
			t.Errorf("access token %s after reuse: got valid, want revoked", tok)
		}
		wantStatus(t, "api after reuse", callAPI(t, p, tok), http.StatusUnauthorized, "invalid_token")
	}
	wantStatus(t, "newest refresh token after reuse", refresh(t, p, rt2), http.StatusBadRequest, "invalid_grant")
	if got, want := p.ChainRevocations(), 1; got != want {
		t.Errorf("ChainRevocations: got %v, want %v", got, want)
	}
	if got, want := p.InvalidGrants(), 2; got != want {
		t.Errorf("InvalidGrants: got %v, want %v", got, want)
	}
	// Another grant is untouched.
	other := connect(t, p, "")
	wantStatus(t, "other chain", refresh(t, p, other.get("refresh_token")), http.StatusOK, "")
}

func TestNoRotationReuseOK(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	first := connect(t, p, "")
	rt := first.get("refresh_token")
	var access []string
	for i := range 3 {
		a := refresh(t, p, rt)
		wantStatus(t, "refresh", a, http.StatusOK, "")
		if _, ok := a.fields["refresh_token"]; ok {
			t.Errorf("refresh %d: got a refresh_token, want none (keep the old one)", i)
		}
		access = append(access, a.get("access_token"))
	}
	for _, tok := range append(access, first.get("access_token")) {
		if !p.ValidAccessToken(tok) {
			t.Errorf("access token %s: got invalid, want valid", tok)
		}
	}
	if got, want := p.ChainRevocations(), 0; got != want {
		t.Errorf("ChainRevocations: got %v, want %v", got, want)
	}
}

func TestNoRefreshToken(t *testing.T) {
	p := start(t, fakeprovider.Options{NoRefreshToken: true})
	a := connect(t, p, "")
	if _, ok := a.fields["refresh_token"]; ok {
		t.Errorf("refresh_token: got one, want none")
	}
	if got := len(p.IssuedRefreshTokens()); got != 0 {
		t.Errorf("IssuedRefreshTokens: got %v, want 0", got)
	}
}

func TestExpiryWithInjectedClock(t *testing.T) {
	clock := newClock()
	p := start(t, fakeprovider.Options{Clock: clock.Now, AccessTTL: 2 * time.Minute, OmitExpiresIn: true})
	a := connect(t, p, "")
	tok := a.get("access_token")
	tests := []struct {
		advance time.Duration
		want    int
	}{
		{0, http.StatusOK},
		{2*time.Minute - time.Second, http.StatusOK},
		{time.Second, http.StatusUnauthorized},
		{24 * time.Hour, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		res := callAPI(t, p, tok)
		if res.status != tt.want {
			t.Fatalf("at %v: got %v, want %v", clock.Now(), res.status, tt.want)
		}
		if tt.want == http.StatusUnauthorized {
			if got, want := res.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
				t.Errorf("WWW-Authenticate: got %v, want %v", got, want)
			}
			if got, want := res.get("error_description"), "The access token expired"; got != want {
				t.Errorf("error_description: got %v, want %v", got, want)
			}
		}
	}
	// A day later the refresh token still works, and SetAccessTTL applies to new tokens.
	p.SetAccessTTL(20 * time.Minute)
	b := refresh(t, p, a.get("refresh_token"))
	wantStatus(t, "refresh", b, http.StatusOK, "")
	wantStatus(t, "api with new token", callAPI(t, p, b.get("access_token")), http.StatusOK, "")
	clock.Advance(20 * time.Minute)
	if p.ValidAccessToken(b.get("access_token")) {
		t.Errorf("new token after 20m: got valid, want expired")
	}
}

func TestRevokeAll(t *testing.T) {
	p := start(t, fakeprovider.Options{})
	a := connect(t, p, "")
	p.RevokeAll()
	wantStatus(t, "refresh", refresh(t, p, a.get("refresh_token")), http.StatusBadRequest, "invalid_grant")
	wantStatus(t, "api", callAPI(t, p, a.get("access_token")), http.StatusUnauthorized, "invalid_token")
	if got, want := p.ChainRevocations(), 0; got != want {
		t.Errorf("ChainRevocations: got %v, want %v", got, want)
	}
	b := connect(t, p, "")
	wantStatus(t, "reconnected", refresh(t, p, b.get("refresh_token")), http.StatusOK, "")
}

func TestConcurrentRefresh(t *testing.T) {
	const n = 200
	tests := []struct {
		name       string
		rotate     bool
		serialize  bool // one refresh at a time, each using the latest token, as a correct engine does
		wantOK     int
		wantChains int
	}{
		{"no rotation, same token", false, false, n, 0},
		{"rotation, same token", true, false, 1, 1},
		{"rotation, serialized", true, true, n, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{RotateRefreshTokens: tt.rotate})
			latest := connect(t, p, "").get("refresh_token")
			var mu sync.Mutex
			var wg sync.WaitGroup
			ok := make(chan string, n)
			for range n {
				wg.Go(func() {
					if tt.serialize {
						mu.Lock()
						defer mu.Unlock()
					}
					a := refresh(t, p, latest)
					if a.status == http.StatusOK {
						ok <- a.get("access_token")
						if tt.serialize {
							latest = a.get("refresh_token")
						}
					} else if a.get("error") != "invalid_grant" {
						t.Errorf("got %d %q, want 200 or invalid_grant", a.status, a.get("error"))
					}
					_ = p.TokenCalls() + p.InvalidGrants() + len(p.IssuedAccessTokens())
					_ = p.LastTokenRequest()
				})
			}
			wg.Wait()
			close(ok)
			var got []string
			for tok := range ok {
				got = append(got, tok)
			}
			if len(got) != tt.wantOK {
				t.Errorf("successful refreshes: got %v, want %v", len(got), tt.wantOK)
			}
			if c := p.ChainRevocations(); c != tt.wantChains {
				t.Errorf("ChainRevocations: got %v, want %v", c, tt.wantChains)
			}
			if got, want := p.RefreshCalls(), n; got != want {
				t.Errorf("RefreshCalls: got %v, want %v", got, want)
			}
			if got, want := p.InvalidGrants(), n-tt.wantOK; got != want {
				t.Errorf("InvalidGrants: got %v, want %v", got, want)
			}
			all := p.IssuedAccessTokens()
			slices.Sort(all)
			if got, want := len(slices.Compact(all)), tt.wantOK+1; got != want {
				t.Errorf("unique access tokens: got %v, want %v", got, want)
			}
		})
	}
}

func TestRefreshDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	p := start(t, fakeprovider.Options{RotateRefreshTokens: true, RefreshDelay: delay})
	rt := connect(t, p, "").get("refresh_token")
	// Two engines refresh the same token while the first answer is slow:
	// the rotation is committed before the answer, so the second is reuse.
	var wg sync.WaitGroup
	answers := make([]answer, 2)
	began := time.Now()
	for i := range answers {
		wg.Go(func() { answers[i] = refresh(t, p, rt) })
	}
	wg.Wait()
	if took := time.Since(began); took < delay {
		t.Errorf("two refreshes took %v, want at least %v", took, delay)
	}
	statuses := []int{answers[0].status, answers[1].status}
	slices.Sort(statuses)
	if want := []int{http.StatusOK, http.StatusBadRequest}; !slices.Equal(statuses, want) {
		t.Errorf("statuses: got %v, want %v", statuses, want)
	}
	if got, want := p.ChainRevocations(), 1; got != want {
		t.Errorf("ChainRevocations: got %v, want %v", got, want)
	}
}

func TestCloseCutsRefreshDelay(t *testing.T) {
	p := fakeprovider.New(fakeprovider.Options{RefreshDelay: time.Hour})
	rt := connect(t, p, "").get("refresh_token")
	done := make(chan answer)
	go func() { done <- refresh(t, p, rt) }()
	for p.RefreshCalls() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the handler reach its sleep
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close: still waiting after 5s, want it to cut RefreshDelay short")
	}
	if a := <-done; a.status != http.StatusOK {
		t.Errorf("refresh cut short: got %d, want the decided answer 200", a.status)
	}
}
