package store

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
)

// secretField reports whether a flattened integration field may hold a
// credential, so that the audit log says it changed and never shows it:
// token and authorization parameters and request parameters are where a
// static key or password ends up when a provider wants one.
func secretField(name string) bool {
	for _, p := range []string{"oauth2.client_secret", "oauth2.token_params", "oauth2.authorization_params", "request_parameters"} {
		if name == p || strings.HasPrefix(name, p+".") {
			return true
		}
	}
	return false
}

// flattenConfig turns an integration's stored JSON into dotted field names
// (oauth2.token_url) and their values; lists stay whole values.
func flattenConfig(config string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(config), &m) != nil {
		return map[string]any{}
	}
	out := map[string]any{}
	flattenInto(out, "", m)
	return out
}

func flattenInto(out map[string]any, prefix string, m map[string]any) {
	for k, v := range m {
		name := prefix + k
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flattenInto(out, name+".", sub)
			continue
		}
		if empty(v) {
			continue // absent, null, "", [], {}: all "not set"
		}
		out[name] = v
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// fieldDiff is each field that differs between before and after as
// {"from": old, "to": new}; a secret field is Changed instead.
func fieldDiff(before, after map[string]any, secret func(string) bool) map[string]any {
	out := map[string]any{}
	names := maps.Clone(before)
	maps.Copy(names, after)
	for name := range names {
		b, a := before[name], after[name]
		if reflect.DeepEqual(b, a) {
			continue
		}
		if secret != nil && secret(name) {
			out[name] = Changed
			continue
		}
		out[name] = map[string]any{"from": b, "to": a}
	}
	return out
}

// integrationChanges is the audit details of an integration written with
// config (the JSON column), coming from oldConfig ("" for a new one).
func integrationChanges(oldConfig, config string, secretSet bool) map[string]any {
	changed := fieldDiff(flattenConfig(oldConfig), flattenConfig(config), secretField)
	if secretSet {
		changed["oauth2.client_secret"] = Changed
	}
	return map[string]any{"changed": changed}
}

// stringMap makes a parameter map comparable by fieldDiff.
func stringMap(m map[string]string, prefix string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[prefix+k] = v
	}
	return out
}

// accountChanges is the audit details of an account's name and parameters
// going from cur's to name and params. Parameters are not credentials (they
// are shown on the account's page), so their values are shown.
func accountChanges(cur AccountRow, name string, params map[string]string) map[string]any {
	before, after := stringMap(cur.Parameters, "parameters."), stringMap(params, "parameters.")
	before["name"], after["name"] = cur.Name, name
	return map[string]any{"changed": fieldDiff(before, after, nil)}
}
