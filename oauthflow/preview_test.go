package oauthflow

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
)

// TestSampleTokenRequestIsWhatTheExchangeSends: the preview's token request
// is, header for header and parameter for parameter, the one a code
// exchange sends with the same values, for each verb and client
// authentication; and Show leaves no stand-in and no secret in its text.
func TestSampleTokenRequestIsWhatTheExchangeSends(t *testing.T) {
	for _, method := range []string{"POST", "GET"} {
		for _, auth := range []string{ClientAuthBasic, ClientAuthBody} {
			t.Run(method+" "+auth, func(t *testing.T) {
				fe, in, c := newTestProvider(t, jsonReply(200, `{"access_token":"at"}`))
				in.OAuth2.TokenMethod, in.OAuth2.ClientAuth = method, auth
				const redirect = "https://cb.example/"
				s := SampleRequests(in, redirect)
				if s.TokenErr != nil {
					t.Fatalf("sample: %v", s.TokenErr)
				}
				si := newStandIns(in)
				in.OAuth2.ClientSecret = si.proto["client_secret"]
				u, err := ExpandURL(in.OAuth2.TokenURL, si.values)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.ExchangeCode(context.Background(), in, si.values, Endpoints{Token: u.String()}, si.proto["code"], si.proto["code_verifier"], redirect); err != nil {
					t.Fatal(err)
				}
				sent := fe.last(t)
				form := url.Values{}
				if s.Token.GetBody != nil {
					b, _ := s.Token.GetBody()
					raw, _ := io.ReadAll(b)
					form, _ = url.ParseQuery(string(raw))
				}
				got := []string{s.Token.Method, s.Token.URL.Path, s.Token.URL.Query().Encode(), form.Encode(), s.Token.Header.Get("Authorization"), s.Token.Header.Get("Content-Type")}
				want := []string{sent.method, sent.path, sent.query.Encode(), sent.form.Encode(), sent.authorization, sent.contentType}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("sample %d: got %q, want what was sent, %q", i, got[i], want[i])
					}
				}
				shown := s.Show(s.Token.URL.String() + form.Encode() + s.Token.Header.Get("Authorization"))
				if strings.Contains(shown, "zqph") || strings.Contains(shown, "s:e%c") {
					t.Errorf("shown: %q, want no stand-in and no secret", shown)
				}
			})
		}
	}
}
