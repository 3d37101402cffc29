package views

import "strings"

// APIRefView is the API page: the OpenAPI document, grouped by tag.
type APIRefView struct {
	Title       string
	Version     string
	Description string
	Security    string // how to authenticate
	Groups      []APIGroup
	Errors      []APIErrorCode
	Schemas     []APISchema
}

// APIGroup is one tag's operations.
type APIGroup struct {
	ID, Name, Description string
	Ops                   []APIOp
}

// APIOp is one operation: method and path, who may call it, what it takes
// and what it answers.
type APIOp struct {
	ID, Method, Path, Summary, Description string
	Role                                   string // public, viewer, builder, admin
	Params                                 []APIParam
	Body                                   *APIType // nil without a request body
	BodyRequired                           bool
	NoBody                                 bool // an action that refuses a body
	Responses                              []APIResponse
}

// APIParam is a path or query parameter.
type APIParam struct {
	Name, In, Description string
	Type                  APIType
	Required              bool
}

// APIType is a schema as words, linking to the one component it names
// (Ref is the anchor of its schema section, "" for none).
type APIType struct {
	Text, Ref, RefName string
}

// APIResponse is one status an operation answers.
type APIResponse struct {
	Status, Description string
	Type                *APIType // nil without a body
	Codes               []string // the error codes this status carries
}

// APIErrorCode is one error code, its status and when it is given.
type APIErrorCode struct {
	Code, Description string
	Status            int
}

// APISchema is a component schema: its fields, or its type when it has none.
type APISchema struct {
	ID, Name, Description string
	Type                  APIType
	Fields                []APIField
}

// APIField is one property of a schema.
type APIField struct {
	Name, Description string
	Type              APIType
	Required          bool
}

// MethodClass colours a method badge: reads info, creates ok, changes warn,
// deletes danger.
func MethodClass(m string) string {
	switch m {
	case "GET", "HEAD":
		return "info"
	case "POST":
		return "ok"
	case "DELETE":
		return "danger"
	}
	return "warn"
}

// CodeSpans splits the document's text on backticks: the odd parts are
// code, as in Markdown, so `x-airlock-role` reads as code and not as quotes.
func CodeSpans(s string) []string { return strings.Split(s, "`") }
