package fakeprovider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow/fakeprovider"
)

// rawRefresh sends a refresh and returns the transport error instead of
// reporting it, for faults that are meant to produce one.
func rawRefresh(p *fakeprovider.Provider, rt string) (*http.Response, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, p.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(fakeprovider.DefaultClientID, fakeprovider.DefaultClientSecret)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestTokenFaults(t *testing.T) {
	tests := []struct {
		name        string
		fault       fakeprovider.Fault
		wantErr     bool   // a transport error, no answer
		wantStatus  int    // else this status
		wantHeader  string // Retry-After
		wantRotated bool   // the refresh token was spent by the faulted call
	}{
		{"503", fakeprovider.Fault{Status: 503, Body: `{"error":"temporarily_unavailable"}`}, false, 503, "", false},
		{"429 with Retry-After", fakeprovider.Fault{Status: 429, Body: "slow down", RetryAfter: "30"}, false, 429, "30", false},
		{"200 HTML", fakeprovider.Fault{Status: 200, Body: "<html>maintenance</html>"}, false, 200, "", false},
		{"200 {}", fakeprovider.Fault{Status: 200, Body: "{}"}, false, 200, "", false},
		{"reset", fakeprovider.Fault{Reset: true}, true, 0, "", false},
		{"delay then answer", fakeprovider.Fault{Delay: 50 * time.Millisecond}, false, 200, "", true},
		{"answer then drop", fakeprovider.Fault{DropAnswer: true}, true, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, fakeprovider.Options{RotateRefreshTokens: true})
			rt := connect(t, p, "").get("refresh_token")
			p.SetTokenFault(tt.fault)
			p.FailNextToken(500, "ignored while a fault is set", 1)
			began := time.Now()
			resp, err := rawRefresh(p, rt)
			if took := time.Since(began); took < tt.fault.Delay {
				t.Errorf("answered after %v, want at least the delay %v", took, tt.fault.Delay)
			}
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("got status %d, want no answer", resp.StatusCode)
			case !tt.wantErr && err != nil:
				t.Fatalf("got %v, want status %d", err, tt.wantStatus)
			case !tt.wantErr && (resp.StatusCode != tt.wantStatus || resp.Header.Get("Retry-After") != tt.wantHeader):
				t.Fatalf("got %d Retry-After %q, want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantStatus, tt.wantHeader)
			}
			p.ClearTokenFault()
			p.FailNextToken(0, "", 0)
			// Recovered: the old refresh token works unless the faulted call spent it.
			again := refresh(t, p, rt)
			if spent := again.status == http.StatusBadRequest; spent != tt.wantRotated {
				t.Errorf("after recovery the old refresh token answered %d (%s); want spent=%v", again.status, again.body, tt.wantRotated)
			}
			if got := p.RefreshCalls(); got != 2 {
				t.Errorf("RefreshCalls: got %d, want 2 (faulted calls are counted)", got)
			}
		})
	}
}

func TestReuseGraceAcceptsALostRotationOnce(t *testing.T) {
	clk := newClock()
	p := start(t, fakeprovider.Options{RotateRefreshTokens: true, ReuseGrace: 30 * time.Second, Clock: clk.Now})
	rt := connect(t, p, "").get("refresh_token")
	wantStatus(t, "rotation", refresh(t, p, rt), http.StatusOK, "") // its answer "lost"
	clk.Advance(10 * time.Second)
	wantStatus(t, "retry within the grace", refresh(t, p, rt), http.StatusOK, "")
	clk.Advance(25 * time.Second)
	wantStatus(t, "reuse after the grace", refresh(t, p, rt), http.StatusBadRequest, "invalid_grant")
	if got := p.ChainRevocations(); got != 1 {
		t.Errorf("ChainRevocations: got %d, want 1", got)
	}
}

func TestTokenRequestsRecordTimeAndChain(t *testing.T) {
	clk := newClock()
	p := start(t, fakeprovider.Options{Clock: clk.Now})
	a, b := connect(t, p, ""), connect(t, p, "")
	chainA, chainB := p.ChainOf(a.get("refresh_token")), p.ChainOf(b.get("access_token"))
	if chainA == 0 || chainB == 0 || chainA == chainB {
		t.Fatalf("ChainOf: got %d and %d, want two different grants", chainA, chainB)
	}
	clk.Advance(time.Minute)
	refresh(t, p, b.get("refresh_token"))
	reqs := p.TokenRequests()
	last := reqs[len(reqs)-1]
	if len(reqs) != 3 || last.Chain != chainB || !last.At.Equal(clk.Now()) || reqs[0].Chain != 0 {
		t.Errorf("requests: got %d, last chain %d at %v; want 3, chain %d at %v, codes without a chain", len(reqs), last.Chain, last.At, chainB, clk.Now())
	}
	if got := p.ChainOf("unknown"); got != 0 {
		t.Errorf("ChainOf(unknown): got %d, want 0", got)
	}
}
