package oauthflow

import (
	"encoding/json"
	"strconv"
)

// pathText is the value at path as text: a string as it is, a number as
// written, a boolean as true or false; false for anything else.
func pathText(doc any, path string) (string, bool) {
	if path == "" { // a capture or identity always names a field: not the whole answer
		return "", false
	}
	v, ok := LookupPath(doc, path)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
