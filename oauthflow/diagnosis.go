package oauthflow

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Diagnosis codes.
const (
	DiagInvalidGrantRefresh = "invalid_grant"
	DiagInvalidGrantCode    = "invalid_grant_code"
	DiagInvalidClient       = "invalid_client"
	DiagRedirectURI         = "redirect_uri_mismatch"
	DiagInvalidScope        = "invalid_scope"
	DiagUnauthorizedClient  = "unauthorized_client"
	DiagHTMLAnswer          = "html_answer"
	DiagNotFound            = "endpoint_not_found"
	DiagMethodNotAllowed    = "method_not_allowed"
	DiagDNS                 = "dns_failure"
	DiagTLS                 = "tls_error"
	DiagTimeout             = "timeout"
	DiagDialGuard           = "dial_guard"
	DiagConnect             = "connect_failed"
	DiagNoRefreshToken      = "no_refresh_token"
	DiagRejectedTwice       = "rejected_after_refresh"
	DiagHealthStatus        = "health_check_status"
	DiagOther               = "failed"
)

// DiagnosisContext is what a diagnosis may quote besides the error.
type DiagnosisContext struct {
	Integration Integration
	// Grant is the trace kind: TraceConnect for a code exchange, TraceRefresh…
	Grant string
	// Stored is the token set a refresh started from (its age, its version).
	Stored Token
	// RedirectURI is the redirect URI a code exchange sent.
	RedirectURI string
	Now         time.Time
}

// offlineHint is the fix for a provider that issues no refresh token.
const offlineHint = "the provider needs offline access: add offline_access to oauth2.scope, or access_type=offline " +
	"(and prompt=consent) to the authorization parameters, then reconnect"

// Diagnose names the cause of a failed token call and the fix: the hint
// names the field to change or the step to take. It never returns nil.
func Diagnose(err error, dc DiagnosisContext) *Diagnosis {
	if d := transportDiagnosis(err); d != nil {
		return d
	}
	if errors.Is(err, ErrNeedsReconnect) && strings.Contains(err.Error(), "no refresh token") {
		return &Diagnosis{Code: DiagNoRefreshToken, Message: "The provider issued no refresh token, so the token cannot be renewed.", Hint: offlineHint}
	}
	var te *TokenError
	if !errors.As(err, &te) {
		return &Diagnosis{Code: DiagOther, Message: capitalize(err.Error()), Hint: "see the steps below for the exchange"}
	}
	if d := oauthDiagnosis(te, dc); d != nil {
		return d
	}
	d := &Diagnosis{Code: DiagOther, Message: capitalize(te.Error()), Hint: te.hint()}
	if te.Code != "" {
		d.Code = te.Code
	}
	if d.Hint == "" {
		d.Hint = "see the steps below for the exchange"
	}
	return d
}

// oauthDiagnosis reads the provider's answer: the OAuth error code first,
// then the status and the shape of the body.
func oauthDiagnosis(te *TokenError, dc DiagnosisContext) *Diagnosis {
	said := strings.ToLower(te.Code + " " + te.Description)
	endpoint := cmpOr(te.Endpoint, "token endpoint")
	switch {
	case te.Code == "redirect_uri_mismatch" || strings.Contains(said, "redirect_uri") || strings.Contains(said, "redirect uri"):
		return &Diagnosis{Code: DiagRedirectURI, Message: "The provider refused the redirect URI: " + capitalize(te.Error()) + ".",
			Hint: redirectHint(dc.RedirectURI)}
	case isInvalidGrant(te.Code) && dc.Grant == TraceConnect:
		return &Diagnosis{Code: DiagInvalidGrantCode, Message: "The provider refused the authorization code (" + te.Code + ").",
			Hint: "the code expired or was used; start again from the account page"}
	case isInvalidGrant(te.Code):
		return &Diagnosis{Code: DiagInvalidGrantRefresh, Message: refreshRefusal(te, dc),
			Hint: "the provider revoked or expired the refresh token — reconnect the account"}
	case te.Code == "invalid_client" || te.Code == "incorrect_client_credentials":
		return &Diagnosis{Code: DiagInvalidClient, Message: "The " + endpoint + " did not accept the client credentials (" + te.Code + ").",
			Hint: "check oauth2.client_id and oauth2.client_secret, and the client authentication method: the provider expected " + otherAuth(dc.Integration)}
	case te.Code == "invalid_scope":
		return &Diagnosis{Code: DiagInvalidScope, Message: "The provider refused the scope.",
			Hint: fmt.Sprintf("the scope sent was %q: change oauth2.scope to scopes the app may ask for", dc.Integration.OAuth2.Scope)}
	case te.Code == "unauthorized_client":
		return &Diagnosis{Code: DiagUnauthorizedClient, Message: "The client may not use this grant.",
			Hint: fmt.Sprintf("the grant type %s is not enabled for this client: enable it in the app at the provider, or change oauth2.grant_type", dc.Integration.OAuth2.GrantType)}
	case te.Status == 404:
		return &Diagnosis{Code: DiagNotFound, Message: "The " + endpoint + " answered 404 Not Found.",
			Hint: "wrong URL: check oauth2.token_url (and the refresh or revoke URL) against the provider's documentation"}
	case te.Status == 405:
		return &Diagnosis{Code: DiagMethodNotAllowed, Message: "The " + endpoint + " answered 405 Method Not Allowed.",
			Hint: "wrong verb or URL: check oauth2.token_method (POST or GET) and oauth2.token_url"}
	case strings.HasPrefix(strings.TrimSpace(te.BodyStart), "<") || strings.Contains(te.Description, "HTML"):
		return &Diagnosis{Code: DiagHTMLAnswer, Message: "The " + endpoint + " answered with a web page.",
			Hint: "this URL serves a web page, not a token endpoint: check oauth2.token_url"}
	}
	return nil
}

// refreshRefusal says what is known of the refused refresh token: its age,
// the last successful refresh (or connect) and its rotations.
func refreshRefusal(te *TokenError, dc DiagnosisContext) string {
	msg := "The provider refused the refresh token (" + te.Code + ")."
	st := dc.Stored
	if dc.Now.IsZero() || st.ObtainedAt.IsZero() {
		return msg
	}
	if !st.RefreshIssuedAt.IsZero() {
		msg += fmt.Sprintf(" The refresh token is %s old (issued %s).", ago(dc.Now, st.RefreshIssuedAt), stamp(st.RefreshIssuedAt))
	} else {
		msg += " The refresh token's age is unknown (it was stored before Airlock kept it)."
	}
	msg += fmt.Sprintf(" The last successful refresh or connect was %s ago (%s).", ago(dc.Now, st.ObtainedAt), stamp(st.ObtainedAt))
	switch st.Rotations {
	case 0:
		msg += " It was never rotated since the connect."
	case 1:
		msg += " It was rotated once since the connect."
	default:
		msg += fmt.Sprintf(" It was rotated %d times since the connect.", st.Rotations)
	}
	return msg
}

func ago(now, t time.Time) time.Duration { return now.Sub(t).Round(time.Second) }
func stamp(t time.Time) string           { return t.UTC().Format(time.RFC3339) }

func isInvalidGrant(code string) bool {
	k, ok := codeKind(code)
	return ok && k == KindInvalidGrant
}

// otherAuth is the client authentication the integration does not use:
// what an invalid_client most often means the provider expected.
func otherAuth(in Integration) string {
	if in.OAuth2.ClientAuth == ClientAuthBody {
		return "HTTP Basic (client_secret_basic): set oauth2.client_auth to basic"
	}
	return "the id and secret in the body (client_secret_post): set oauth2.client_auth to body"
}

// transportDiagnosis names a failure before any answer: DNS, TLS, timeout,
// the dial guard, a refused connection.
func transportDiagnosis(err error) *Diagnosis {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var certErr *tls.CertificateVerificationError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrRefusedAddress):
		return &Diagnosis{Code: DiagDialGuard, Message: "Airlock refused to connect: the address is loopback, private or link-local.",
			Hint: "use the provider's public address, or set AIRLOCK_ALLOW_PRIVATE_NETWORKS=true for a provider on a private network"}
	case errors.As(err, &dnsErr):
		return &Diagnosis{Code: DiagDNS, Message: fmt.Sprintf("The host %s could not be resolved (DNS).", dnsErr.Name),
			Hint: "check the host name in the URL (oauth2.token_url), and the DNS of the machine running Airlock"}
	case errors.As(err, &unknownCA):
		return tlsDiagnosis("the certificate is signed by an authority this machine does not trust (self-signed or a private CA)")
	case errors.As(err, &hostErr):
		return tlsDiagnosis("the certificate is not valid for this host name (" + hostErr.Host + ")")
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return tlsDiagnosis("the certificate has expired or is not yet valid")
		}
		return tlsDiagnosis("the certificate is invalid: " + invalid.Error())
	case errors.As(err, &certErr):
		return tlsDiagnosis("the certificate could not be verified: " + certErr.Error())
	case errors.As(err, &recordErr) || (err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")):
		return tlsDiagnosis("the server did not answer TLS (is the URL http rather than https, or the port wrong?)")
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return &Diagnosis{Code: DiagTimeout, Message: "The provider did not answer in time.",
			Hint: "check that the URL's host and port are right and reachable from the machine running Airlock; retry later if the provider is slow"}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &Diagnosis{Code: DiagConnect, Message: "The connection was refused or could not be made: " + opErr.Err.Error() + ".",
			Hint: "check the host and port in the URL and that the provider is up"}
	}
	return nil
}

func tlsDiagnosis(problem string) *Diagnosis {
	return &Diagnosis{Code: DiagTLS, Message: "The TLS handshake failed: " + problem + ".",
		Hint: "fix the provider's certificate, or check that the URL names the provider's real host"}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// redirectHint names the redirect URI to register: the one the exchange
// sent, when known.
func redirectHint(uri string) string {
	if uri == "" {
		return "register exactly the callback URL shown on the integration page as a redirect URI in the app at the provider"
	}
	return "register exactly this redirect URI in the app at the provider: " + uri
}

// Explain is err's text with its diagnosis (when it names a cause): what
// an account's last_error and its alert's and webhook's reason say.
func Explain(err error, d *Diagnosis) string {
	if err == nil {
		return ""
	}
	if d == nil || d.Code == DiagOther || d.Hint == "" {
		return err.Error()
	}
	return err.Error() + ". Diagnosis (" + d.Code + "): " + d.Message + " Fix: " + d.Hint + "."
}
