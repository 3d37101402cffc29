package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// maxJSONBody caps an API request body. It is far above any honest
// integration (whose fields have their own limits) and low enough that a
// flood of huge bodies costs little.
const maxJSONBody = 1 << 20

// Page sizes of API lists.
const (
	defaultPageLimit = 50
	maxPageLimit     = 200
)

// jsonProblem is why a body could not be decoded: a message for people and,
// when one field is to blame, its JSON path and what is wrong with it.
type jsonProblem struct {
	msg   string
	path  string
	field string
}

// fields is the problem as an API error's fields map (nil without a path).
func (p *jsonProblem) fields() map[string]string {
	if p.path == "" {
		return nil
	}
	return map[string]string{p.path: p.field}
}

// decodeJSON decodes the request body, capped at maxJSONBody, into v: one
// JSON value, no unknown fields. Any problem is a 400 bad_json that says
// what is wrong and, for a wrong type, names the field by its JSON path.
func decodeJSON(c echo.Context, v any) error {
	r := c.Request()
	body := http.MaxBytesReader(c.Response(), r.Body, maxJSONBody)
	if p := decodeJSONSized(body, r.ContentLength, v); p != nil {
		return apiErr("bad_json", p.msg, p.fields())
	}
	return nil
}

// decodeJSONFrom is decodeJSON for any reader (the console's import reads a
// textarea). The caller caps the reader's size. JSON text is UTF-8 (RFC 8259
// §8.1): invalid bytes are refused rather than silently replaced.
func decodeJSONFrom(r io.Reader, v any) *jsonProblem {
	return decodeJSONSized(r, -1, v)
}

// decodeJSONSized is decodeJSONFrom for a body of known length (-1 when
// unknown), read into one buffer of that size rather than a growing one.
func decodeJSONSized(r io.Reader, n int64, v any) *jsonProblem {
	size := int64(512) // io.ReadAll's start
	if n >= 0 && n < maxJSONBody {
		size = n + 1 // +1: room for the read that finds the end
	}
	b, err := readAllSized(r, int(size))
	if err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(b) {
		return &jsonProblem{msg: "The body is not valid UTF-8: send JSON text encoded in UTF-8."}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	// One value only: trailing text is a sign the body is not what the client meant.
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return jsonError(err)
		}
		return &jsonProblem{msg: "The body holds more than one JSON value: send a single JSON object."}
	}
	return nil
}

// readAllSized is io.ReadAll starting from a buffer of size bytes.
func readAllSized(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// noBody guards the API routes that take no body (actions: refresh,
// disconnect, delete …). A client that sends one expects it to mean
// something, so anything but nothing, {} or null is a 400 instead of being
// silently ignored.
func noBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody))
		if err != nil {
			return apiErr("bad_json", jsonError(err).msg, nil)
		}
		var none struct{}
		if len(bytes.TrimSpace(b)) > 0 && decodeJSONFrom(bytes.NewReader(b), &none) != nil {
			return apiErr("bad_json", "This action takes no body: send none (or {}).", nil)
		}
		return next(c)
	}
}

// jsonError turns a decoding error into words a client can act on.
func jsonError(err error) *jsonProblem {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return &jsonProblem{msg: fmt.Sprintf("The body is larger than %d bytes (1 MiB): send a smaller JSON object.", maxJSONBody)}
	case errors.Is(err, io.EOF):
		return &jsonProblem{msg: "The body is empty: send a JSON object."}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &jsonProblem{msg: "The body ends in the middle of a JSON value: send a complete JSON object."}
	case errors.As(err, &syntax):
		return &jsonProblem{msg: fmt.Sprintf("The body is not valid JSON (%s at byte %d): check the syntax.",
			strings.TrimPrefix(syntax.Error(), "json: "), syntax.Offset)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &jsonProblem{msg: "The body must be a JSON object, not " + article(typ.Value) + "."}
		}
		what := fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type), article(typ.Value))
		return &jsonProblem{msg: typ.Field + " " + what + ".", path: typ.Field, field: capitalize(what)}
	}
	// encoding/json has no typed error for an unknown field; its text is
	// `json: unknown field "name"`, which is stable across Go releases.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ = strconv.Unquote(name)
		name = truncate(name, 64)
		return &jsonProblem{msg: fmt.Sprintf("Unknown field %q: remove it, or check its spelling against GET /api/v1/integrations/{key}.", name),
			path: name, field: "Unknown field: remove it or check its spelling"}
	}
	return &jsonProblem{msg: "The body could not be read as JSON: " + truncate(err.Error(), 200)}
}

// jsonKind names what a Go type expects, in JSON words.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return "a different type"
}

// article puts "a"/"an" before encoding/json's name of a JSON value
// ("string", "number 1e100", "array").
func article(v string) string {
	switch {
	case v == "":
		return "this value"
	case strings.HasPrefix(v, "number "):
		return "the number " + truncate(strings.TrimPrefix(v, "number "), 40) + " (out of range)"
	case strings.IndexByte("aeiou", v[0]) >= 0:
		return "an " + v
	}
	return "a " + v
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// truncate shortens s to at most n bytes, on a character boundary, so that
// a huge value cannot make a huge message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// listParams are the query parameters every API list takes.
type listParams struct {
	Q      string
	Limit  int
	Cursor string
}

// readListParams reads q, limit (default 50, at most 200) and cursor; a bad
// limit is a 422 that names it.
func readListParams(c echo.Context) (listParams, error) {
	p := listParams{Q: strings.TrimSpace(c.QueryParam("q")), Limit: defaultPageLimit, Cursor: c.QueryParam("cursor")}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageLimit {
			msg := fmt.Sprintf("limit must be a whole number from 1 to %d (default %d)", maxPageLimit, defaultPageLimit)
			return p, apiErr("invalid_fields", msg, map[string]string{"limit": msg})
		}
		p.Limit = n
	}
	if len(p.Q) > 200 {
		msg := "q may be at most 200 characters"
		return p, apiErr("invalid_fields", msg, map[string]string{"q": msg})
	}
	return p, nil
}

// badCursor is the error for a cursor the store could not read.
func badCursor() error {
	msg := "cursor is not one this API gave out: use next_cursor from the previous page, or leave it out for the first page"
	return apiErr("invalid_fields", msg, map[string]string{"cursor": msg})
}
