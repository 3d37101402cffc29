package oauthflow

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Masked stands in for a secret in the builder's preview.
const Masked = "••••••••"

// Sample is an integration's requests built by the code that sends them —
// the authorization URL, the first token request of its grant, a request
// through an account to its first API base URL — with a stand-in for every
// value filled in per account or per flow (its parameters, the state, the
// code, the verifier, the token) and for the client secret. Show turns the
// stand-ins back into {names} and masks the secret, so the builder's preview
// shows exactly what Airlock would send, and cannot drift from it.
type Sample struct {
	AuthURL  string // "" for client credentials, or when AuthErr says why not
	AuthErr  error
	Token    *http.Request
	TokenErr error
	// API is the request through an account; APIErr (a *RequestError
	// naming the field to fix) says why there is none, and is nil too when
	// the integration has no API base URL (NoBase).
	API    *http.Request
	APIErr error
	NoBase bool
	// AnyOrigin: the API base URL is *, and the sample's host stands for any.
	AnyOrigin bool
	show      *strings.Replacer
}

// AnyOriginSampleHost is the host a sample request goes to when the API
// base URL is * (any origin).
const AnyOriginSampleHost = "https://api.example.com"

// protocolStandIns are filled in per flow, not per account.
var protocolStandIns = []string{"state", "code", "code_verifier", "token", "client_secret", "path"}

// standIns are the values a sample is built with: a run of lower-case
// letters and digits passes through every escaping (host, path, query,
// form) unchanged, and none appears in the integration's own text.
type standIns struct {
	values map[string]string // the integration's parameters
	proto  map[string]string // what Airlock fills in per flow
	pairs  []string          // stand-in → what Show writes
}

func newStandIns(in Integration) *standIns {
	text := strings.ToLower(fmt.Sprintf("%v", in))
	prefix := "zqph"
	for strings.Contains(text, prefix) {
		prefix += "x"
	}
	s := &standIns{values: map[string]string{}, proto: map[string]string{}}
	n := 0
	next := func() string { n++; return fmt.Sprintf("%s%dz", prefix, n) } // the z ends the number: no stand-in is a prefix of another
	shown := map[string]string{"client_secret": Masked, "path": "…"}      // "path": the rest of an API path
	for _, name := range protocolStandIns {
		s.proto[name] = next()
		s.pairs = append(s.pairs, s.proto[name], cmp.Or(shown[name], "{"+name+"}"))
	}
	for _, p := range in.Parameters {
		s.values[p.Name] = next()
		s.pairs = append(s.pairs, s.values[p.Name], "{"+p.Name+"}")
	}
	captureStandIns(in, s, next)
	return s
}

// SampleRequests builds the sample of an integration as it stands (it need
// not be valid: each part is built when the fields it needs allow).
func SampleRequests(in Integration, redirectURI string) Sample {
	si := newStandIns(in)
	in.OAuth2.ClientSecret = si.proto["client_secret"]
	var s Sample
	ctx := context.Background()
	if in.OAuth2.GrantType == GrantAuthorizationCode {
		s.AuthURL, s.AuthErr = AuthorizationURL(in, si.values, redirectURI, si.proto["state"], si.proto["code_verifier"])
		if u, err := url.Parse(s.AuthURL); err == nil && u.Query().Get("code_challenge") != "" {
			si.pairs = append(si.pairs, u.Query().Get("code_challenge"), "{code_challenge}")
		}
	}
	s.Token, s.TokenErr = sampleTokenRequest(ctx, in, si, redirectURI)
	if s.Token != nil {
		if auth, ok := strings.CutPrefix(s.Token.Header.Get("Authorization"), "Basic "); ok {
			si.pairs = append(si.pairs, auth, Masked+"  (client ID and secret)")
		}
	}
	s.sampleAPIRequest(ctx, in, si)
	s.show = strings.NewReplacer(si.pairs...)
	return s
}

// sampleTokenRequest is the first token request of the integration's grant.
func sampleTokenRequest(ctx context.Context, in Integration, si *standIns, redirectURI string) (*http.Request, error) {
	if in.OAuth2.ClientID == "" {
		return nil, configError("token endpoint", "no client id")
	}
	u, err := ExpandURL(in.OAuth2.TokenURL, si.values)
	if err != nil {
		return nil, err
	}
	var form url.Values
	if in.OAuth2.GrantType == GrantAuthorizationCode {
		form, err = codeForm(in, si.values, si.proto["code"], si.proto["code_verifier"], redirectURI)
	} else {
		form, err = clientCredentialsForm(in, si.values)
	}
	if err != nil {
		return nil, err
	}
	req, _, err := tokenRequest(ctx, in, si.values, u.String(), form)
	return req, err
}

// sampleAPIRequest is a GET through an account to the first API base URL,
// with the request parameters and the token where they go.
func (s *Sample) sampleAPIRequest(ctx context.Context, in Integration, si *standIns) {
	if len(in.APIBaseURLs) == 0 {
		s.NoBase = true
		return
	}
	base := in.APIBaseURLs[0]
	if base == AnyOrigin {
		base, s.AnyOrigin = AnyOriginSampleHost, true
	}
	var r Runner // its checks and its build, not its client
	a := Account{Parameters: si.values}
	target, err := r.target(a, in, Request{URL: strings.TrimSuffix(base, "/") + "/" + si.proto["path"]})
	if err != nil {
		s.APIErr = err
		return
	}
	s.API, _, s.APIErr = r.build(ctx, a, in, http.MethodGet, target, Request{}, Token{AccessToken: si.proto["token"]})
}

// Show writes text made from the sample's requests as the preview shows it:
// {names} for the stand-ins, the client secret masked.
func (s Sample) Show(text string) string {
	if s.show == nil {
		return text
	}
	return s.show.Replace(text)
}
