package oauthflow

import (
	"fmt"
	"strconv"
	"strings"
)

// pathStep is one hop of a JSON path: a member name or an array index.
type pathStep struct {
	key   string
	index int // -1 for a member step
}

// LookupPath finds the value at path in a decoded JSON document (the maps,
// slices and scalars encoding/json produces). A path is member names joined
// by dots with array indexes in brackets: "authed_user.access_token",
// "errors[0].code", "[1]". The empty path is the document itself. It reports
// false when the path is malformed or any hop finds nothing (a missing member,
// an index past the end, or a member asked of something that is not an
// object), so callers can fall back to a default field.
func LookupPath(doc any, path string) (any, bool) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, false
	}
	cur := doc
	for _, s := range steps {
		next, ok := step(cur, s)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// ValidatePath reports why path is not a JSON path LookupPath understands, or
// nil. Validation on save uses it so a typo is refused rather than silently
// never matching.
func ValidatePath(path string) error {
	_, err := parsePath(path)
	return err
}

func step(cur any, s pathStep) (any, bool) {
	if s.index < 0 {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[s.key]
		return v, ok
	}
	arr, ok := cur.([]any)
	if !ok || s.index >= len(arr) {
		return nil, false
	}
	return arr[s.index], true
}

// parsePath splits "a.b[0].c" into steps. Member names may hold any
// character but '.', '[' and ']'.
func parsePath(path string) ([]pathStep, error) {
	var steps []pathStep
	rest := path
	for rest != "" {
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("missing ] after %q", rest)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 || rest[1] == '+' {
				return nil, fmt.Errorf("%q is not an array index (use [0], [1] …)", rest[:end+1])
			}
			steps = append(steps, pathStep{index: n})
			rest = rest[end+1:]
			if strings.HasPrefix(rest, ".") {
				rest = rest[1:]
				if rest == "" || rest[0] == '.' || rest[0] == '[' {
					return nil, fmt.Errorf("empty member name in %q", path)
				}
			} else if rest != "" && rest[0] != '[' {
				return nil, fmt.Errorf("expected . or [ after an index in %q", path)
			}
		default:
			end := strings.IndexAny(rest, ".[]")
			if end == 0 {
				return nil, fmt.Errorf("empty member name in %q", path)
			}
			if end < 0 {
				end = len(rest)
			}
			steps = append(steps, pathStep{key: rest[:end], index: -1})
			rest = rest[end:]
			if rest == "" {
				break
			}
			if rest[0] == ']' {
				return nil, fmt.Errorf("unexpected ] in %q", path)
			}
			if rest[0] == '.' {
				rest = rest[1:]
				if rest == "" || rest[0] == '.' || rest[0] == '[' {
					return nil, fmt.Errorf("empty member name in %q", path)
				}
			}
		}
	}
	return steps, nil
}
