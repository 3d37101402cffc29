package oauthflow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The redirect-URI check ("Check" on the integration page): Airlock asks for
// its own callback through its public URL with a one-time probe value in the
// query; the callback answers a live probe with a signature of it in a
// header. Only this process can make the signature, so a signed answer proves
// the public URL reaches this very server.
const (
	// ProbeParam carries the probe value; OAuth's own parameters (code,
	// state, error, iss) never use this name.
	ProbeParam = "airlock_probe"
	// ProbeHeader carries the callback's signature of the probe value.
	ProbeHeader = "Airlock-Probe-Signature"
)

// Probe results: a public contract (POST /api/v1/redirect-uri/check).
const (
	ProbeReachable      = "reachable"
	ProbeOtherServer    = "other_server"
	ProbeUnreachable    = "unreachable"
	ProbeSchemeMismatch = "scheme_mismatch"
)

const (
	probeTTL       = time.Minute
	maxLiveProbes  = 1024 // live probes kept; the oldest goes first beyond it
	probeTimeout   = 10 * time.Second
	probeRedirects = 5
)

// ProbeResult is the outcome of Check; OK is true only for reachable.
type ProbeResult struct {
	RedirectURI string `json:"redirect_uri"`
	OK          bool   `json:"ok"`
	Result      string `json:"result"`
	Detail      string `json:"detail"`
}

// Prober makes and answers probes. Its key is random per process, so
// another server (or another Airlock process) cannot sign this one's probes.
// It is safe for concurrent use.
type Prober struct {
	key []byte
	now func() time.Time

	mu   sync.Mutex
	live map[string]time.Time // probe value → expiry
}

// NewProber returns a Prober with a fresh random key.
func NewProber() *Prober {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (it aborts the process instead)
	return &Prober{key: key, now: time.Now, live: map[string]time.Time{}}
}

// NewProbe returns a new probe value, live for a minute and good for one
// Answer.
func (p *Prober) NewProbe() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	oldest, oldestAt := "", time.Time{}
	for k, exp := range p.live {
		switch {
		case !now.Before(exp):
			delete(p.live, k)
		case oldest == "" || exp.Before(oldestAt):
			oldest, oldestAt = k, exp
		}
	}
	if len(p.live) >= maxLiveProbes {
		delete(p.live, oldest)
	}
	p.live[v] = now.Add(probeTTL)
	return v
}

// Answer is for the callback: for a live probe value it returns the
// signature to send in ProbeHeader and ends the probe; for any other value
// (unknown, expired, used) it returns false and the callback answers without
// a signature. Either way the request is a probe, not a failed callback.
func (p *Prober) Answer(value string) (signature string, ok bool) {
	if !p.take(value) {
		return "", false
	}
	return p.sign(value), true
}

// take ends a live probe, reporting whether it was live.
func (p *Prober) take(value string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.live[value]
	delete(p.live, value)
	return ok && p.now().Before(exp)
}

func (p *Prober) sign(value string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("airlock-probe\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// probeAnswer is what one probe request came back with.
type probeAnswer struct {
	err    error    // no HTTP answer at all
	status int      // the last answer's status
	final  *url.URL // where that answer came from
	signed bool     // it carried this probe's signature
	forged bool     // it carried a signature, not this probe's
	moved  string   // a redirect not followed: its target, without query
}

// Check requests redirectURI with a new probe through client (the guarded
// outbound client; Check sets its own redirect policy on a copy: at most 5
// redirects, on the same host name) and says what answered: this server
// over https (reachable), this server only over http while the public URL
// is https (scheme_mismatch: a redirect to http, or https failing where http
// answers), another server (other_server), or nothing (unreachable, with
// the error; the probe value never appears in it).
func (p *Prober) Check(ctx context.Context, client *http.Client, redirectURI string) ProbeResult {
	res := ProbeResult{RedirectURI: redirectURI}
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		res.Result, res.Detail = ProbeUnreachable, "The redirect URI is not an absolute http or https URL: check AIRLOCK_PUBLIC_URL."
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	hc := *client
	hc.Jar = nil
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > probeRedirects || !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	a := p.probe(ctx, &hc, u)
	switch {
	case a.err != nil && u.Scheme == "https":
		plain := *u
		plain.Scheme = "http"
		if b := p.probe(ctx, &hc, &plain); b.err == nil && b.signed {
			res.Result, res.Detail = ProbeSchemeMismatch, fmt.Sprintf("%s failed (%v), but %s reached this Airlock server: the public URL is https, the server answers only over http. Put TLS in front of Airlock (a reverse proxy), or fix AIRLOCK_PUBLIC_URL.", safeURL(u), a.err, safeURL(&plain))
			return res
		}
		fallthrough
	case a.err != nil:
		res.Result, res.Detail = ProbeUnreachable, fmt.Sprintf("%s could not be reached: %v. Check AIRLOCK_PUBLIC_URL, DNS and the reverse proxy.", safeURL(u), a.err)
	case !a.signed:
		res.Result, res.Detail = ProbeOtherServer, otherServerDetail(u, a)
	case u.Scheme == "https" && a.final.Scheme == "http":
		res.Result, res.Detail = ProbeSchemeMismatch, fmt.Sprintf("%s redirects to %s: the callback is reached over http although the public URL is https. Make the reverse proxy keep https (and tell Airlock, e.g. with X-Forwarded-Proto).", safeURL(u), safeURL(a.final))
	default:
		res.OK, res.Result = true, ProbeReachable
		res.Detail = "The redirect URI reaches this Airlock server over https."
		if u.Scheme == "http" {
			res.Detail = "The redirect URI reaches this Airlock server, over http: providers accept http redirect URIs only for localhost, if at all; use an https public URL elsewhere."
		}
	}
	return res
}

// probe sends one request to u with a new probe value and reads the answer.
func (p *Prober) probe(ctx context.Context, hc *http.Client, u *url.URL) probeAnswer {
	value := p.NewProbe()
	defer p.take(value) // unanswered probes do not stay live
	target := *u
	q := target.Query()
	q.Set(ProbeParam, value)
	target.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return probeAnswer{err: err}
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the URL with the probe value
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", probeTimeout)
		}
		return probeAnswer{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	sig := resp.Header.Get(ProbeHeader)
	signed := sig != "" && hmac.Equal([]byte(sig), []byte(p.sign(value)))
	a := probeAnswer{status: resp.StatusCode, final: resp.Request.URL, signed: signed, forged: sig != "" && !signed}
	if loc, err := resp.Location(); err == nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		a.moved = safeURL(loc)
	}
	return a
}

// otherServerDetail explains an unsigned answer.
func otherServerDetail(u *url.URL, a probeAnswer) string {
	where := safeURL(u)
	if safeURL(a.final) != safeURL(u) {
		where += " (answered at " + safeURL(a.final) + ")"
	}
	switch {
	case a.forged:
		return fmt.Sprintf("%s answered %d with a probe signature that is not this server's: it reaches another Airlock process (with several replicas, the probe may have reached another one).", where, a.status)
	case a.moved != "":
		return fmt.Sprintf("%s redirects (%d) to %s, which the check does not follow (another host, or more than %d redirects): the public URL does not lead to this server. Check AIRLOCK_PUBLIC_URL and the reverse proxy.", where, a.status, a.moved, probeRedirects)
	}
	return fmt.Sprintf("%s answered %d without Airlock's probe signature: the public URL reaches another server, not this one. Check AIRLOCK_PUBLIC_URL and the reverse proxy's route to Airlock.", where, a.status)
}
