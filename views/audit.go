package views

import "net/url"

// AuditVM is one row of the audit log.
type AuditVM struct {
	At         string // "3 min ago"
	AtExact    string // RFC 3339
	Actor      string // an email, "API key deploy", "airlock CLI" or "not signed in"
	ActorKind  string
	Address    string
	Object     string // "user 4", "integration github"
	ObjectHref string // a link to the object when it still has a page
	Action     string
	Details    []string // "role: builder → admin", "oauth2.client_secret: changed"
}

// AuditView is the audit log page: its filters as typed, and a page of rows.
type AuditView struct {
	Rows       []AuditVM
	Next       string
	Actor      string
	ObjectType string
	ObjectID   string
	Since      string // YYYY-MM-DD
	Until      string // YYYY-MM-DD, inclusive
	Errors     map[string]string
}

// Filtered reports whether any filter is set, so that the empty state can
// tell "nothing matches" from "nothing yet".
func (v AuditView) Filtered() bool {
	return v.Actor != "" || v.ObjectType != "" || v.ObjectID != "" || v.Since != "" || v.Until != ""
}

// AuditObjectTypes are the object filter's choices.
var AuditObjectTypes = []Option{{"", "Any object"}, {"integration", "Integrations"}, {"account", "Accounts"},
	{"user", "Users and sign-ins"}, {"api_key", "API keys"}, {"setting", "Settings"}}

func nextAuditURL(v AuditView) string {
	q := url.Values{"cursor": {v.Next}}
	for k, val := range map[string]string{"actor": v.Actor, "object_type": v.ObjectType, "object_id": v.ObjectID, "since": v.Since, "until": v.Until} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return "/audit?" + q.Encode()
}
