// Package views renders the console with templ. Components take the view-model
// structs declared here — never store rows, tokens or ciphertext — so a template
// cannot leak what its handler did not choose to show.
package views

import (
	"encoding/json"
	"strings"

	"github.com/a-h/templ"
)

// Page is what every full page needs: the layout's header, navigation and flashes.
type Page struct {
	Title   string
	Org     string
	Realm   string
	Nav     string // the active navigation entry: "home", "integrations", "accounts", "activity", "api", "settings", "users", "audit"
	User    *User  // nil when nobody is signed in
	CSRF    string // the session's CSRF token, sent by htmx as X-CSRF-Token and by forms as _csrf
	Flashes []Flash
	Assets  string // static asset version, part of every asset URL
	Alerts  int    // open alerts, shown as a count in the navigation
}

// User is the signed-in user as the layout shows them.
type User struct {
	Email   string
	Role    string
	IsAdmin bool
	SSO     bool // signs in through the identity provider: no password to change
}

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // "success", "error" or "info"
	Message string
	// Link is a console path the message points to (a failure's trace), "" for none.
	Link string
}

// ErrorView is an error page or htmx error partial.
type ErrorView struct {
	Status  int
	Title   string
	Message string
	// Back is a link that leads somewhere useful from here.
	Back      string
	BackLabel string
}

// NavItem is one entry of the sidebar.
type NavItem struct {
	ID, Label, Href string
	Count           int
}

// Nav returns the sidebar entries the page's user may see.
func (p Page) NavItems() []NavItem {
	items := []NavItem{
		{ID: "home", Label: "Dashboard", Href: "/", Count: p.Alerts},
		{ID: "integrations", Label: "Integrations", Href: "/integrations"},
		{ID: "accounts", Label: "Accounts", Href: "/accounts"},
		{ID: "activity", Label: "Activity", Href: "/activity"},
		{ID: "api", Label: "API", Href: "/api"},
	}
	if p.User != nil && p.User.IsAdmin {
		items = append(items, NavItem{ID: "users", Label: "Users", Href: "/users"},
			NavItem{ID: "settings", Label: "Settings", Href: "/settings"},
			NavItem{ID: "audit", Label: "Audit log", Href: "/audit"})
	}
	return items
}

// DocTitle is the browser tab's title: page, organization, product.
func (p Page) DocTitle() string {
	parts := []string{}
	if p.Title != "" {
		parts = append(parts, p.Title)
	}
	if p.Org != "" {
		parts = append(parts, p.Org)
	}
	return strings.Join(append(parts, "Airlock"), " · ")
}

// Asset is the versioned URL of a static file.
func (p Page) Asset(name string) string { return "/static/" + p.Assets + "/" + name }

// csrfHeaders is the hx-headers attribute value that makes htmx send the token.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

// htmxConfig turns off what a strict CSP forbids (inline indicator styles, eval)
// and lets 4xx/5xx partials swap so errors appear where the user is looking.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},` +
	`{"code":"[45]..","swap":true,"error":true},{"code":"...","swap":false}]}`

// Field describes one form control.
type Field struct {
	ID           string
	Name         string
	Label        string
	Type         string // "text" when empty
	Value        string
	Help         string
	Error        string
	Placeholder  string
	Autocomplete string
	Required     bool
	HideOptional bool
	WrapperID    string
	Attrs        templ.Attributes
}

// Option is one choice of a Select.
type Option struct{ Value, Label string }

func (f Field) inputType() string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

func (f Field) describedBy() string { return describedBy(f.ID, f.Help, f.Error) }
