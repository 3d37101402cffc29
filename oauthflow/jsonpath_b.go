package oauthflow

import (
	"encoding/json"
	"strconv"
	"strings"
)

// lookupPathB finds path ("a.b", "a[0].b", "[1]") in a decoded JSON
// document. It reports false for a malformed path, a missing key, an index
// out of range or a step into something that is not an object or array.
// Part B's copy of part A's LookupPath: the two are unified at merge.
func lookupPathB(doc any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	cur := doc
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[name]; !ok {
				return nil, false
			}
		} else if rest == "" {
			return nil, false // an empty step: "a..b"
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(idx)
			arr, isArr := cur.([]any)
			if !ok || err != nil || n < 0 || !isArr || n >= len(arr) {
				return nil, false
			}
			cur = arr[n]
			if after == "" {
				break
			}
			if !strings.HasPrefix(after, "[") {
				return nil, false
			}
			rest = after[1:]
		}
	}
	return cur, true
}

// pathText is the value at path as text: a string as it is, a number as
// written, a boolean as true or false; false for anything else.
func pathText(doc any, path string) (string, bool) {
	v, ok := lookupPathB(doc, path)
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
