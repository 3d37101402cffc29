package views

// FormAssist is what helps fill the builder: the preset chooser (new
// integrations only), the chosen preset's notes, "Fill from issuer" and the
// lint warnings.
type FormAssist struct {
	// Presets are the choices, already filtered by PresetQuery.
	Presets     []PresetChoice
	PresetQuery string
	// Preset is the chosen preset (nil: started blank).
	Preset *PresetInfo
	// DiscoverIssuer is the issuer typed into "Fill from issuer".
	DiscoverIssuer string
	// DiscoverError is why discovery could not fill anything.
	DiscoverError string
	// Filled lists what discovery filled in ("Token URL: https://…").
	Filled []string
	// DiscoverWarnings are discovery's own notes (no revocation endpoint …).
	DiscoverWarnings []string
	Lint             []LintItem
}

// PresetChoice is one entry of "Start from a preset".
type PresetChoice struct {
	Name, Title, Initials string
	GrantTypes            []string
	// Parameters describe what an account fills in (region, subdomain …).
	Parameters []string
}

// PresetInfo is a preset's setup notes, shown in the builder and on the
// integration page.
type PresetInfo struct {
	Name, Title, Notes string
	Parameters         []string
	Unverified         []string
}

// LintItem is one lint warning, linked to its field.
type LintItem struct {
	Code, Field, ID, Label, Message string
}

// PlaceLint turns lint warnings (JSON path, message) into linked items in
// form order.
func PlaceLint(code, field, message []string) []LintItem {
	out := make([]LintItem, 0, len(code))
	for i := range code {
		ctl := formField(field[i])
		out = append(out, LintItem{Code: code[i], Field: field[i], ID: FieldID(ctl), Label: fieldLabel(field[i]), Message: message[i]})
	}
	return out
}

// ProbeView is the redirect-URI check's answer.
type ProbeView struct {
	RedirectURI, Result, Detail string
	OK                          bool
}
