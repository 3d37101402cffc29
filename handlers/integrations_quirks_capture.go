package handlers

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"airlock/oauthflow"
	"airlock/views"
)

// The console form's fields of issue 14 part B: captures as one line each
// ("name source path [allowed hosts]"), the userinfo URL, the identity and
// the required scopes.

// quirksBFromForm reads those fields into o.
func quirksBFromForm(fe oauthflow.FieldErrors, f views.IntegrationForm, o *oauthflow.OAuth2) {
	o.Capture = parseCaptureLines(fe, f.Captures)
	o.UserinfoURL = f.UserinfoURL
	if strings.TrimSpace(f.IdentityFrom) != "" || strings.TrimSpace(f.IdentityPath) != "" {
		o.Identity = &oauthflow.Identity{From: f.IdentityFrom, Path: f.IdentityPath}
	}
	o.RequiredScopes = strings.Fields(strings.ReplaceAll(f.RequiredScopes, ",", " "))
}

// parseCaptureLines reads "name source path [host,host]" lines.
func parseCaptureLines(fe oauthflow.FieldErrors, text string) []oauthflow.Capture {
	var out []oauthflow.Capture
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		w := strings.Fields(line)
		if len(w) == 0 {
			continue
		}
		if len(w) < 3 || len(w) > 4 {
			fe["oauth2.capture"] = fmt.Sprintf("Line %d: write name, source and path, then the allowed hosts if any, separated by spaces, "+
				"e.g. instance_url token_response instance_url *.salesforce.com,*.force.com", i+1)
			return out
		}
		c := oauthflow.Capture{Name: w[0], From: w[1], Path: w[2]}
		if len(w) == 4 {
			c.AllowedHosts = strings.Split(w[3], ",")
		}
		out = append(out, c)
	}
	return out
}

// quirksBToForm writes those fields of o into the form.
func quirksBToForm(o oauthflow.OAuth2, f *views.IntegrationForm) {
	var b strings.Builder
	for _, c := range o.Capture {
		b.WriteString(c.Name + " " + c.From + " " + c.Path)
		if len(c.AllowedHosts) > 0 {
			b.WriteString(" " + strings.Join(c.AllowedHosts, ","))
		}
		b.WriteString("\n")
	}
	f.Captures, f.UserinfoURL = b.String(), o.UserinfoURL
	if o.Identity != nil {
		f.IdentityFrom, f.IdentityPath = o.Identity.From, o.Identity.Path
	}
	f.RequiredScopes = strings.Join(o.RequiredScopes, " ")
}

var captureRowRE = regexp.MustCompile(`^oauth2\.capture\[(\d+)\]\.(\w+)$`)

// captureLineErrors words a capture's errors by line, as the form shows the
// captures in one box: "Line 2 (allowed hosts): …".
func captureLineErrors(fe oauthflow.FieldErrors) oauthflow.FieldErrors {
	out := oauthflow.FieldErrors{}
	for p, msg := range fe {
		if m := captureRowRE.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[1])
			msg = fmt.Sprintf("Line %d (%s): %s", n+1, strings.ReplaceAll(m[2], "_", " "), msg)
		}
		out[p] = msg
	}
	return out
}
