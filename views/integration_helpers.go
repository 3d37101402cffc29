package views

import (
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// FieldID is the HTML id of the control for a form field name (which is the
// field's JSON path): "parameters[0].name" becomes "f-parameters-0-name".
// Handlers use it to link error messages to their controls.
func FieldID(name string) string {
	var b strings.Builder
	b.WriteString("f-")
	dash := false
	for _, r := range name {
		switch {
		case r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// rowField is the form field name of a cell in a repeated row.
func rowField(list string, i int, field string) string {
	return list + "[" + strconv.Itoa(i) + "]." + field
}

func keyHelp(f IntegrationForm) string {
	if f.Accounts > 0 {
		return "Used by " + Plural(f.Accounts, "account", "accounts") + ", so it cannot change."
	}
	return "Letters and digits only; used in URLs and the API. It cannot change once an account uses it."
}

func keyAttrs(f IntegrationForm) templ.Attributes {
	a := templ.Attributes{"maxlength": "64", "autocomplete": "off", "spellcheck": "false"}
	if f.Accounts > 0 {
		a["readonly"] = true
	}
	return a
}

func secretHelp(f IntegrationForm) string {
	var s string
	switch {
	case f.SecretSet && f.SecretLast4 != "":
		s = "Set, ends in …" + f.SecretLast4 + " — leave blank to keep it."
	case f.SecretSet:
		s = "Set — leave blank to keep it."
	case f.Editing:
		s = "Not set: accounts cannot connect until you enter it."
	default:
		s = "Stored encrypted and never shown again."
	}
	if f.SecretNote != "" {
		s += " " + f.SecretNote
	}
	return s
}

// Plural is "1 account" or "3 accounts", for views and handlers alike.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func describedBy(id, help, err string) string {
	var ids []string
	if help != "" {
		ids = append(ids, id+"-help")
	}
	if err != "" {
		ids = append(ids, id+"-error")
	}
	return strings.Join(ids, " ")
}

// joinIDs is an aria-describedby list of the non-empty ids.
func joinIDs(ids ...string) string {
	var out []string
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return strings.Join(out, " ")
}
