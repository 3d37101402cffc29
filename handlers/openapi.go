package handlers

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// openapiFiles is the API reference as data: base.json (info, security,
// shared components) and one file per route group, merged at start so that
// routes added on separate branches touch separate files.
//
//go:embed openapi/*.json
var openapiFiles embed.FS

// OpenAPIPath is where the document is served.
const OpenAPIPath = "/api/v1/openapi.json"

// openapiMethods are the operations a path item may hold (OpenAPI 3.1).
var openapiMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// docRoles are the values of x-airlock-role, the lowest role an operation needs.
var docRoles = map[string]perm{"public": permNone, "viewer": permRead, "builder": permBuild, "admin": permAdmin}

type docObject = map[string]any

// buildOpenAPI merges the fragments of fsys (base.json first) into one
// document and completes it from the server's own tables: the error codes
// and their statuses, and the error answers every operation shares.
func buildOpenAPI(fsys fs.FS, serverURL string) (docObject, error) {
	names, err := fs.Glob(fsys, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	// base.json first, then the groups by name (fs.Glob sorts).
	if i := slices.Index(names, "openapi/base.json"); i > 0 {
		rest := slices.Delete(slices.Clone(names), i, i+1)
		names = append([]string{"openapi/base.json"}, rest...)
	}
	var doc docObject
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var frag docObject
		if err := json.Unmarshal(b, &frag); err != nil {
			return nil, fmt.Errorf("openapi: %s: %w", name, err)
		}
		if doc == nil {
			doc = frag
			continue
		}
		if err := mergeFragment(doc, frag); err != nil {
			return nil, fmt.Errorf("openapi: %s: %w", name, err)
		}
	}
	if doc == nil || doc["openapi"] == nil {
		return nil, fmt.Errorf("openapi: base.json is missing")
	}
	if serverURL != "" {
		doc["servers"] = []any{docObject{"url": serverURL, "description": "This deployment (AIRLOCK_PUBLIC_URL)."}}
	}
	if err := addErrorCodes(doc); err != nil {
		return nil, err
	}
	return doc, completeOperations(doc)
}

// mergeFragment adds a route group's tags, paths and components to the
// document. A route or component defined twice is an error, never a silent
// override: two branches adding the same name must notice.
func mergeFragment(doc, frag docObject) error {
	for k := range frag {
		if k != "tags" && k != "paths" && k != "components" {
			return fmt.Errorf("%q belongs in base.json; a route group has only tags, paths and components", k)
		}
	}
	tags, _ := doc["tags"].([]any)
	for _, t := range asList(frag["tags"]) {
		if name := str(asObject(t)["name"]); slices.ContainsFunc(tags, func(u any) bool { return str(asObject(u)["name"]) == name }) {
			continue // a tag may be declared by more than one group; the first description wins
		}
		tags = append(tags, t)
	}
	doc["tags"] = tags
	paths := objectAt(doc, "paths")
	for p, item := range asObject(frag["paths"]) {
		have := objectAt(paths, p)
		for k, v := range asObject(item) {
			if _, dup := have[k]; dup {
				return fmt.Errorf("paths[%q].%s is defined in another file too", p, k)
			}
			have[k] = v
		}
	}
	comps := objectAt(doc, "components")
	for kind, set := range asObject(frag["components"]) {
		have := objectAt(comps, kind)
		for name, v := range asObject(set) {
			if _, dup := have[name]; dup {
				return fmt.Errorf("components.%s.%s is defined in another file too", kind, name)
			}
			have[name] = v
		}
	}
	return nil
}

// addErrorCodes fills the ErrorCode schema from codeStatuses (its enum and
// each code's status) and adds one response per status, "ErrorNNN", whose
// code may only be one of that status's codes. Every code needs a
// description in base.json, and every description a code.
func addErrorCodes(doc docObject) error {
	schemas := objectAt(objectAt(doc, "components"), "schemas")
	ec := objectAt(schemas, "ErrorCode")
	words := asObject(ec["x-airlock-codes"])
	var enum []any
	statuses := docObject{}
	byStatus := map[int][]any{}
	var order []int
	for _, cs := range codeStatuses {
		if str(words[cs.code]) == "" {
			return fmt.Errorf("openapi: error code %q has no description in base.json's ErrorCode x-airlock-codes", cs.code)
		}
		enum = append(enum, cs.code)
		statuses[cs.code] = cs.status
		if byStatus[cs.status] == nil {
			order = append(order, cs.status)
		}
		byStatus[cs.status] = append(byStatus[cs.status], cs.code)
	}
	for code := range words {
		if !slices.Contains(enum, any(code)) {
			return fmt.Errorf("openapi: ErrorCode describes %q, which is not in the code table (errors.go)", code)
		}
	}
	ec["enum"], ec["x-airlock-statuses"] = enum, statuses
	responses := objectAt(objectAt(doc, "components"), "responses")
	for _, status := range order {
		var codes []string
		for _, c := range byStatus[status] {
			codes = append(codes, "`"+str(c)+"`")
		}
		responses["Error"+strconv.Itoa(status)] = docObject{
			"description": http.StatusText(status) + ": " + strings.Join(codes, ", ") + " (see ErrorCode).",
			"content": docObject{"application/json": docObject{"schema": docObject{"allOf": []any{
				docObject{"$ref": "#/components/schemas/Error"},
				docObject{"properties": docObject{"error": docObject{"properties": docObject{"code": docObject{"enum": byStatus[status]}}}}},
			}}}},
		}
	}
	return nil
}

// completeOperations checks each operation's x-airlock-role and adds the
// error answers every operation of its kind can give, unless the operation
// lists the status itself: 401 and 500/503 behind a key, 403 above viewer,
// 400 and 413 where a body is read (or refused, x-airlock-no-body).
func completeOperations(doc docObject) error {
	for p, item := range asObject(doc["paths"]) {
		for _, m := range openapiMethods {
			op := asObject(asObject(item)[m])
			if op == nil {
				continue
			}
			role, ok := docRoles[str(op["x-airlock-role"])]
			if !ok {
				return fmt.Errorf("openapi: %s %s: x-airlock-role must be public, viewer, builder or admin", strings.ToUpper(m), p)
			}
			var add []int
			if role != permNone {
				add = append(add, 401, 500, 503)
			}
			if role > permRead {
				add = append(add, 403)
			}
			if op["requestBody"] != nil || op["x-airlock-no-body"] == true {
				add = append(add, 400, 413)
			}
			resp := objectAt(op, "responses")
			for _, s := range add {
				if _, ok := resp[strconv.Itoa(s)]; !ok {
					resp[strconv.Itoa(s)] = docObject{"$ref": "#/components/responses/Error" + strconv.Itoa(s)}
				}
			}
		}
	}
	return nil
}

// openapiJSON serves the document. It is public, like the README that
// documents the same routes: it holds the API's shape, no data and no secret.
func (h *Handler) openapiJSON(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, h.openapi)
}

func asObject(v any) docObject { m, _ := v.(docObject); return m }
func asList(v any) []any       { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

// objectAt is m[k] as an object, made when missing.
func objectAt(m docObject, k string) docObject {
	o, ok := m[k].(docObject)
	if !ok {
		o = docObject{}
		m[k] = o
	}
	return o
}
