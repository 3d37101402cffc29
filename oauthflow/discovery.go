package oauthflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Discovery is what "Fill from issuer" proposes for an integration, read from
// the provider's published metadata (RFC 8414 and OpenID Connect Discovery
// 1.0). Nothing here is saved: the builder shows it, the admin saves. The JSON
// shape is the body of POST /api/v1/discovery.
type Discovery struct {
	AuthorizationURL string `json:"authorization_url"`
	TokenURL         string `json:"token_url"`
	RevokeURL        string `json:"revoke_url"`
	// Issuer equals the URL given, exactly: Discover refuses otherwise.
	Issuer      string `json:"issuer"`
	UserinfoURL string `json:"userinfo_url"`
	// PKCE is true when code_challenge_methods_supported lists S256. False
	// means the document does not promise it, not that it is refused: a form
	// turns PKCE on when this is true and leaves it as it is otherwise.
	PKCE bool `json:"pkce"`
	// ClientAuth is basic (client_secret_basic, also the RFC 8414 default
	// when the document lists no methods) or body (client_secret_post), or
	// "" when the provider lists neither (a warning says so).
	ClientAuth      string   `json:"client_auth"`
	ScopesSupported []string `json:"scopes_supported"`
	// SuggestedScope is openid, then offline_access, each only when
	// scopes_supported lists it (space-separated, "" when it lists neither).
	// API scopes are the provider's own: the admin adds them.
	SuggestedScope string   `json:"suggested_scope"`
	Warnings       []string `json:"warnings"`

	// issInResponse: the provider says it sends iss with the authorization
	// response (RFC 9207 §3). Airlock's callback refuses an answer without
	// iss once an integration has an issuer, so only then is setting it safe.
	issInResponse bool
}

// Limits of a discovery fetch.
const (
	discoveryTimeout = 10 * time.Second // all the documents together
	maxDiscoveryBody = 1 << 20
)

// The well-known suffixes: RFC 8414 §3 and OpenID Connect Discovery §4.
const (
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
	wellKnownOIDC  = "/.well-known/openid-configuration"
)

// metadata is the part of a discovery document Airlock reads. A nil list
// means the document leaves the field out, which RFC 8414 gives a meaning.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	ScopesSupported       []string `json:"scopes_supported"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuth     []string `json:"token_endpoint_auth_methods_supported"`
	IssInResponse         bool     `json:"authorization_response_iss_parameter_supported"`
}

// fetched is one well-known URL's outcome: a document, or why there is none.
type fetched struct {
	url      string
	doc      *metadata
	notFound bool   // 404 or 410: the usual "not published here"
	problem  string // otherwise, what went wrong, for the error message
}

// Discover reads the provider's metadata for issuer: the RFC 8414 document
// (at the issuer's origin with /.well-known/oauth-authorization-server
// inserted before its path, then — for servers that predate RFC 8414 §5,
// such as Okta's custom authorization servers — appended after it) and the
// OpenID Connect document (/.well-known/openid-configuration appended to the
// issuer). Every request goes through client, which carries the dial guard;
// Discover adds a 10 s bound, a 1 MiB cap per document, and follows
// redirects only within the origin. Each document found must name exactly
// issuer as its issuer (RFC 8414 §3.3), or Discover refuses. When both are
// found, the RFC 8414 document wins where they differ (with a warning) and
// the OpenID one adds what it alone has (userinfo). Errors are FieldErrors on
// "issuer" that say why and what to do.
func Discover(ctx context.Context, client *http.Client, issuer string) (Discovery, error) {
	issuer = strings.TrimSpace(issuer)
	u, msg := parseIssuer(issuer)
	if msg != "" {
		return Discovery{}, FieldErrors{"issuer": msg}
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	hc := *client // a copy: the caller's redirect policy and jar stay as they are
	hc.CheckRedirect, hc.Jar = sameOriginOnly, nil

	inserted, appendedOAuth, oidcURL := wellKnownURLs(u)
	var attempts []fetched
	oauth := fetchMetadata(ctx, &hc, inserted)
	attempts = append(attempts, oauth)
	if oauth.doc == nil && appendedOAuth != "" {
		oauth = fetchMetadata(ctx, &hc, appendedOAuth)
		attempts = append(attempts, oauth)
	}
	oidc := fetchMetadata(ctx, &hc, oidcURL)
	attempts = append(attempts, oidc)

	for _, f := range []fetched{oauth, oidc} {
		if f.doc != nil && f.doc.Issuer != issuer {
			return Discovery{}, FieldErrors{"issuer": issuerMismatch(f, issuer)}
		}
	}
	if oauth.doc == nil && oidc.doc == nil {
		return Discovery{}, FieldErrors{"issuer": noDocument(attempts)}
	}
	d := fill(issuer, oauth.doc, oidc.doc)
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		d.Warnings = append(d.Warnings, "The issuer uses http, not https: anyone on the network path can read and change what the provider sends. Use the provider's https issuer.")
	}
	return d, nil
}

// parseIssuer checks the URL an admin pasted; the message says what to fix.
func parseIssuer(s string) (*url.URL, string) {
	const example = "e.g. https://accounts.google.com"
	switch {
	case s == "":
		return nil, "Issuer is required: paste the provider's issuer URL, " + example
	case len(s) > maxURLLen:
		return nil, fmt.Sprintf("The issuer may be at most %d characters", maxURLLen)
	case hasControl(s):
		return nil, "Remove line breaks and control characters from the issuer"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "":
		return nil, "The issuer must be an absolute https URL, " + example
	case u.User != nil:
		return nil, "The issuer may not contain a user name or password"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return nil, "The issuer may not have a query or fragment (RFC 8414 §2): paste it without ?… and #…"
	}
	return u, ""
}

// wellKnownURLs are the places a document may be published. RFC 8414 §3.1
// inserts its suffix between the origin and the path (removing a final "/"
// first); OpenID Connect Discovery §4 appends its suffix to the path. For an
// issuer with a path, appended is where pre-RFC servers put the RFC 8414
// document too; it is "" for an issuer without a path (the same URL).
func wellKnownURLs(u *url.URL) (inserted, appended, oidc string) {
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	inserted = origin + wellKnownOAuth + path
	if path != "" {
		appended = origin + path + wellKnownOAuth
	}
	return inserted, appended, origin + path + wellKnownOIDC
}

// fetchMetadata GETs one well-known URL and decodes it.
func fetchMetadata(ctx context.Context, hc *http.Client, target string) fetched {
	f := fetched{url: target}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		f.problem = "could not be requested: " + err.Error()
		return f
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		f.problem = fetchError(ctx, err)
		return f
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		f.notFound, f.problem = true, fmt.Sprintf("answered %d", resp.StatusCode)
		return f
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc, _ := url.Parse(resp.Header.Get("Location"))
		f.problem = fmt.Sprintf("redirected (%d) to %s, which is not followed: redirects are followed only within the issuer's origin",
			resp.StatusCode, safeURL(req.URL.ResolveReference(orEmpty(loc))))
		return f
	case resp.StatusCode != http.StatusOK:
		f.problem = fmt.Sprintf("answered %d", resp.StatusCode)
		return f
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	switch {
	case err != nil:
		f.problem = "broke off while sending the document: " + fetchError(ctx, err)
	case len(body) > maxDiscoveryBody:
		f.problem = "answered with a document larger than 1 MiB"
	default:
		f.doc, f.problem = decodeMetadata(resp.Header.Get("Content-Type"), body)
	}
	return f
}

// decodeMetadata parses a document; the message says what it was instead.
func decodeMetadata(contentType string, body []byte) (*metadata, string) {
	trimmed := strings.TrimSpace(string(body))
	if strings.Contains(strings.ToLower(contentType), "html") || strings.HasPrefix(trimmed, "<") {
		return nil, "answered with HTML, not JSON (a sign-in, error or single-page app page)"
	}
	if !strings.HasPrefix(trimmed, "{") {
		return nil, "answered with something that is not a JSON object"
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, "answered with JSON that is not a valid discovery document (" + err.Error() + ")"
	}
	return &m, ""
}

// fetchError describes a failed request without its URL (the caller names
// it): a timeout as such, a dial-guard refusal with its reason.
func fetchError(ctx context.Context, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Sprintf("did not answer in time (discovery waits at most %s)", discoveryTimeout)
	}
	return "could not be reached: " + err.Error()
}

// issuerMismatch is the refusal when a document names another issuer.
func issuerMismatch(f fetched, given string) string {
	named := truncateError(f.doc.Issuer, 300)
	switch {
	case f.doc.Issuer == "":
		return fmt.Sprintf("The discovery document at %s names no issuer, so it cannot be checked against the URL given: Airlock does not use it. Fill in the endpoints by hand.", f.url)
	case strings.Contains(f.doc.Issuer, "{"):
		return fmt.Sprintf("The issuer's discovery document names the template issuer %s, not %s: this is a multi-tenant endpoint. Paste the issuer of your own tenant (the template with your tenant's ID filled in).", named, given)
	}
	return fmt.Sprintf("The issuer's discovery document names issuer %s, not %s: paste the issuer exactly as the provider publishes it.", named, given)
}

// noDocument is the refusal when no well-known URL gave a document.
func noDocument(attempts []fetched) string {
	parts := make([]string, len(attempts))
	for i, a := range attempts {
		parts[i] = a.url + " " + a.problem
	}
	return "Airlock found no discovery document for this issuer: " + strings.Join(parts, "; ") +
		". Check the issuer URL, or fill in the endpoints by hand."
}

// isLoopbackHost reports localhost and loopback literals: http there is a
// developer's own machine, not a network path.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
