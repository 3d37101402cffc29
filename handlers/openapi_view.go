package handlers

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"airlock/views"
)

// loadOpenAPI builds the API reference once: the document the API serves
// and the console page's view of it. The fragments are compiled in, so a
// broken one is a programming error that every test run reports at once.
func (h *Handler) loadOpenAPI() {
	doc, err := buildOpenAPI(openapiFiles, h.cfg.PublicURL.String())
	if err != nil {
		panic(err)
	}
	if h.openapi, err = json.Marshal(doc); err != nil {
		panic(err)
	}
	h.apiRef = apiRefView(doc)
}

// apiReferencePage renders the document for people.
func (h *Handler) apiReferencePage(c echo.Context) error {
	return h.render(c, http.StatusOK, views.APIReference(h.userPage(c, "API", "api"), h.apiRef))
}

// apiRefView turns the document into the page's view-model: operations
// under their first tag, in the order the tags are declared.
func apiRefView(doc docObject) views.APIRefView {
	info := asObject(doc["info"])
	comps := asObject(doc["components"])
	v := views.APIRefView{Title: str(info["title"]), Version: str(info["version"]), Description: str(info["description"]),
		Security: str(asObject(asObject(comps["securitySchemes"])["apiKey"])["description"])}
	groups := map[string]*views.APIGroup{}
	var order []string
	for _, t := range asList(doc["tags"]) {
		name := str(asObject(t)["name"])
		groups[name] = &views.APIGroup{ID: "tag-" + anchor(name), Name: name, Description: str(asObject(t)["description"])}
		order = append(order, name)
	}
	paths := asObject(doc["paths"])
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		item := asObject(paths[p])
		for _, m := range openapiMethods {
			op := asObject(item[m])
			if op == nil {
				continue
			}
			tag := "Other"
			if tags := asList(op["tags"]); len(tags) > 0 {
				tag = str(tags[0])
			}
			g := groups[tag]
			if g == nil {
				g = &views.APIGroup{ID: "tag-" + anchor(tag), Name: tag}
				groups[tag] = g
				order = append(order, tag)
			}
			g.Ops = append(g.Ops, apiOpView(doc, p, m, item, op))
		}
	}
	for _, name := range order {
		if g := groups[name]; len(g.Ops) > 0 {
			v.Groups = append(v.Groups, *g)
		}
	}
	v.Errors = apiErrorCodes(asObject(asObject(comps["schemas"])["ErrorCode"]))
	schemas := asObject(comps["schemas"])
	for _, name := range slices.Sorted(maps.Keys(schemas)) {
		s := asObject(schemas[name])
		sv := views.APISchema{ID: "schema-" + anchor(name), Name: name, Description: str(s["description"]), Type: typeOf(s)}
		required := asList(s["required"])
		props := asObject(s["properties"])
		for _, f := range slices.Sorted(maps.Keys(props)) {
			fs := asObject(props[f])
			sv.Fields = append(sv.Fields, views.APIField{Name: f, Description: str(fs["description"]), Type: typeOf(fs),
				Required: slices.Contains(required, any(f))})
		}
		v.Schemas = append(v.Schemas, sv)
	}
	return v
}

// apiOpView is one operation's view-model, $refs of parameters and
// responses resolved.
func apiOpView(doc docObject, p, m string, item, op docObject) views.APIOp {
	o := views.APIOp{ID: "op-" + anchor(str(op["operationId"])), Method: strings.ToUpper(m), Path: p, Summary: str(op["summary"]),
		Description: str(op["description"]), Role: str(op["x-airlock-role"]), NoBody: op["x-airlock-no-body"] == true}
	for _, pr := range append(slices.Clone(asList(item["parameters"])), asList(op["parameters"])...) {
		pa := resolve(doc, asObject(pr))
		o.Params = append(o.Params, views.APIParam{Name: str(pa["name"]), In: str(pa["in"]), Description: str(pa["description"]),
			Type: typeOf(asObject(pa["schema"])), Required: pa["required"] == true})
	}
	if rb := resolve(doc, asObject(op["requestBody"])); rb != nil {
		t := typeOf(jsonSchemaOf(rb))
		o.Body, o.BodyRequired = &t, rb["required"] == true
	}
	resps := asObject(op["responses"])
	statuses := slices.Sorted(maps.Keys(resps))
	for _, s := range statuses {
		r := resolve(doc, asObject(resps[s]))
		rv := views.APIResponse{Status: s, Description: str(r["description"])}
		if sc := jsonSchemaOf(r); sc != nil {
			t := typeOf(sc)
			rv.Type = &t
			for _, part := range asList(sc["allOf"]) { // ErrorNNN: the codes of its status
				code := asObject(asObject(asObject(asObject(asObject(part)["properties"])["error"])["properties"])["code"])
				for _, c := range asList(code["enum"]) {
					rv.Codes = append(rv.Codes, str(c))
				}
				if len(rv.Codes) > 0 { // the codes are listed beside; their words are in the error table
					rv.Description, _, _ = strings.Cut(rv.Description, ":")
				}
			}
		}
		o.Responses = append(o.Responses, rv)
	}
	return o
}

// apiErrorCodes lists the codes of the ErrorCode schema with their status
// and description, in the order of the server's table.
func apiErrorCodes(ec docObject) []views.APIErrorCode {
	var out []views.APIErrorCode
	statuses, words := asObject(ec["x-airlock-statuses"]), asObject(ec["x-airlock-codes"])
	for _, c := range asList(ec["enum"]) {
		n, _ := statuses[str(c)].(int)
		out = append(out, views.APIErrorCode{Code: str(c), Status: n, Description: str(words[str(c)])})
	}
	return out
}

// resolve follows a local $ref (#/components/…) once.
func resolve(doc docObject, o docObject) docObject {
	ref := str(o["$ref"])
	if ref == "" {
		return o
	}
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = asObject(cur[part])
	}
	return cur
}

// jsonSchemaOf is the application/json schema of a body or response.
func jsonSchemaOf(o docObject) docObject {
	return asObject(asObject(asObject(o["content"])["application/json"])["schema"])
}

// typeOf words a schema: a component's name (linked), "array of X", "map
// of X", "string or null", "one of a, b" …
func typeOf(s docObject) views.APIType {
	if ref := str(s["$ref"]); ref != "" {
		name := ref[strings.LastIndex(ref, "/")+1:]
		return views.APIType{Text: name, Ref: "schema-" + anchor(name), RefName: name}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if parts := asList(s[k]); len(parts) > 0 {
			return combinedType(parts, k == "allOf")
		}
	}
	t := simpleType(s)
	if enum := asList(s["enum"]); len(enum) > 0 {
		var vals []string
		for _, e := range enum {
			b, _ := json.Marshal(e)
			vals = append(vals, strings.Trim(string(b), `"`))
			if e == "" {
				vals[len(vals)-1] = `""`
			}
		}
		t.Text += ": one of " + strings.Join(vals, ", ")
	}
	if f := str(s["format"]); f != "" {
		t.Text += " (" + f + ")"
	}
	if d, ok := s["default"]; ok {
		b, _ := json.Marshal(d)
		t.Text += ", default " + string(b)
	}
	return t
}

// combinedType words allOf ("X and Y") or anyOf/oneOf ("X or null"),
// linking the first component named.
func combinedType(parts []any, all bool) views.APIType {
	var texts []string
	var t views.APIType
	for _, p := range parts {
		pt := typeOf(asObject(p))
		if pt.Text == "" {
			continue
		}
		texts = append(texts, pt.Text)
		if t.Ref == "" {
			t.Ref, t.RefName = pt.Ref, pt.RefName
		}
	}
	sep := " or "
	if all {
		sep = " and "
	}
	t.Text = strings.Join(texts, sep)
	return t
}

// simpleType words a schema's type (one or a list): arrays and maps by
// what they hold.
func simpleType(s docObject) views.APIType {
	var types []string
	switch ty := s["type"].(type) {
	case string:
		types = []string{ty}
	case []any:
		for _, x := range ty {
			types = append(types, str(x))
		}
	}
	var t views.APIType
	for i, ty := range types {
		var inner views.APIType
		switch {
		case ty == "array":
			inner = typeOf(asObject(s["items"]))
			types[i] = strings.TrimSpace("array of " + inner.Text)
		case ty == "object" && asObject(s["additionalProperties"]) != nil:
			inner = typeOf(asObject(s["additionalProperties"]))
			types[i] = "map of " + inner.Text
		}
		if inner.Ref != "" {
			t.Ref, t.RefName = inner.Ref, inner.RefName
		}
	}
	t.Text = strings.Join(types, " or ")
	return t
}

// anchor makes a name safe as an HTML id.
func anchor(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}
