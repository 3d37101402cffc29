package oauthflow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDiscoverTimesOut(t *testing.T) {
	release := make(chan struct{})
	iss := fakeIssuer(t, "", func(string) map[string]http.Handler {
		return map[string]http.Handler{wellKnownOIDC: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Discover(ctx, loopbackClient(t), iss)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v, want the deadline to end it", took)
	}
	want := iss + wellKnownOIDC + " did not answer in time (discovery waits at most 10s)"
	if msg := issuerError(t, err); !strings.Contains(msg, want) {
		t.Errorf("got %q, want it to contain %q", msg, want)
	}
}

func TestDiscoverRefusesBadIssuerInput(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "Issuer is required: paste the provider's issuer URL, e.g. https://accounts.google.com"},
		{"accounts.google.com", "The issuer must be an absolute https URL, e.g. https://accounts.google.com"},
		{"ftp://idp.example", "The issuer must be an absolute https URL, e.g. https://accounts.google.com"},
		{"https://idp.example/?tenant=1", "The issuer may not have a query or fragment (RFC 8414 §2): paste it without ?… and #…"},
		{"https://idp.example/#x", "The issuer may not have a query or fragment (RFC 8414 §2): paste it without ?… and #…"},
		{"https://user:pw@idp.example", "The issuer may not contain a user name or password"},
		{"https://idp.example/\nx", "Remove line breaks and control characters from the issuer"},
		{"https://idp.example/" + strings.Repeat("a", maxURLLen), "The issuer may be at most 2048 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			// A client that fails the test if used: bad input makes no request.
			c := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				t.Errorf("request to %s for bad input", r.URL)
				return nil, context.Canceled
			})}
			_, err := Discover(context.Background(), c, tt.in)
			if got := issuerError(t, err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDiscoverWarnsOnHTTPIssuer(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	port := srv.Listener.Addr().String()
	port = port[strings.LastIndex(port, ":"):]
	iss := "http://idp.test" + port
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != wellKnownOIDC {
			http.NotFound(w, r)
			return
		}
		serveJSON(doc(iss, nil)).ServeHTTP(w, r)
	})
	srv.Start()
	defer srv.Close()
	res := &fakeResolver{answers: map[string][]string{"idp.test": {"127.0.0.1"}}}
	c := NewHTTPClient(HTTPOptions{Guard: &DialGuard{AllowPrivate: true, Resolver: res, Dial: loopbackOnlyDial(t)}}, NoRedirects)
	d, err := Discover(context.Background(), c, iss)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"The issuer uses http, not https: anyone on the network path can read and change what the provider sends. Use the provider's https issuer."}
	if !reflect.DeepEqual(d.Warnings, want) {
		t.Errorf("got %q, want %q", d.Warnings, want)
	}
}

func TestDiscoverGoesThroughTheGuard(t *testing.T) {
	iss := fakeIssuer(t, "", func(iss string) map[string]http.Handler {
		return map[string]http.Handler{wellKnownOIDC: serveJSON(doc(iss, nil))}
	})
	guarded := NewHTTPClient(HTTPOptions{Guard: &DialGuard{}}, NoRedirects) // private networks refused
	_, err := Discover(context.Background(), guarded, iss)
	if msg := issuerError(t, err); !strings.Contains(msg, "could not be reached: dial guard: 127.0.0.1 is a loopback address") {
		t.Errorf("got %q, want the dial guard's refusal", msg)
	}
}
