package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API tests' contract check. Every test server's handler is wrapped in
// apiContract, so every request any test sends to /api/v1 — through ts.api,
// a browser-like client or a raw http.Client — and every answer is checked
// against the OpenAPI document with kin-openapi's openapi3filter, which
// validates OpenAPI 3.1 documents with its JSON Schema 2020-12 validator.
//
// The rules, failing the test on a mismatch:
//   - every answer must be documented: its status listed for the operation
//     (no "default"), its body valid against that status's schema;
//   - a request the document refuses (a missing or wrong field, an unknown
//     one, no Bearer key …) must be refused by the server too, with a 4xx:
//     tests send bad input on purpose, so a refused request is not itself a
//     failure, but the server accepting what the document forbids is drift;
//   - a path or method the document does not have must answer the error
//     envelope with 404 or 405.

// contractRouter is the document's router, built once for all tests.
var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := buildOpenAPI(openapiFiles, "")
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("kin-openapi cannot load the document: %w", err)
	}
	if err := spec.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	return gorillamux.NewRouter(spec)
})

// apiContract wraps a test server's handler in the contract check.
func apiContract(t *testing.T, next http.Handler) http.Handler {
	router, err := contractRouter()
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		if r.Context().Err() != nil || r.Method == http.MethodHead {
			return // the client went away (answered 499, read by nobody)
		}
		if err := checkContract(router, r, body, rec); err != nil {
			t.Errorf("OpenAPI contract: %s %s → %d: %v\nresponse: %s", r.Method, r.URL.Path, rec.Code, err, truncate(rec.Body.String(), 400))
		}
	})
}

// checkContract checks one exchange against the document (the rules above).
func checkContract(router routers.Router, r *http.Request, body []byte, rec *httptest.ResponseRecorder) error {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	proxied := routeOneSegment(req)
	route, params, err := router.FindRoute(req)
	if err != nil {
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			return fmt.Errorf("not in the document (%v), yet answered", err)
		}
		if err := checkErrorEnvelope(rec.Body.Bytes()); err != nil {
			return err
		}
		return checkAirlockError(nil, rec, false)
	}
	if err := checkAirlockError(route.Spec, rec, proxied); err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && rec.Code < 400 {
		return fmt.Errorf("the document refuses this request, the server accepted it: %v", reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(rec.Body.Bytes())
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// bearerPresent is the security check of the contract: the document's only
// scheme is a Bearer key, so a request without one is one it refuses.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %s", in.SecuritySchemeName)
	}
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); !ok || token == "" {
		return errors.New("no Bearer key")
	}
	return nil
}

// checkErrorEnvelope checks an answer to an undocumented path or method
// against the document's Error schema.
func checkErrorEnvelope(b []byte) error {
	var v struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Error == nil || v.Error.Message == "" ||
		(v.Error.Code != "not_found" && v.Error.Code != "method_not_allowed") {
		return fmt.Errorf("an unknown route must answer the error envelope, got %q", truncate(string(b), 200))
	}
	return nil
}

// routeOneSegment makes a proxy path findable: OpenAPI's {path} is one
// segment, the proxy's rest of the path any number of them. It reports
// whether the request is the proxy's.
func routeOneSegment(req *http.Request) bool {
	rest, ok := strings.CutPrefix(req.URL.Path, "/api/v1/accounts/")
	id, tail, _ := strings.Cut(rest, "/")
	tail, ok2 := strings.CutPrefix(tail, "proxy")
	if !ok || !ok2 || (tail != "" && tail[0] != '/') {
		return false
	}
	if tail != "" {
		req.URL.Path, req.URL.RawPath = "/api/v1/accounts/"+id+"/proxy/rest-of-path", ""
	}
	return true
}

// checkAirlockError checks the Airlock-Error header: an answer that carries
// it is the Error shape (spec's schema, when given) with the same code, and
// every error of a route other than the proxy's carries it. The proxy's
// errors without it are the upstream's, which may look like anything.
func checkAirlockError(spec *openapi3.T, rec *httptest.ResponseRecorder, proxied bool) error {
	code := rec.Header().Get("Airlock-Error")
	if code == "" {
		if rec.Code >= 400 && !proxied {
			return fmt.Errorf("an error of Airlock's without an Airlock-Error header")
		}
		return nil
	}
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Error.Code != code || rec.Code < 400 {
		return fmt.Errorf("Airlock-Error %q on a %d answer whose error code is %q: they must agree", code, rec.Code, v.Error.Code)
	}
	if spec == nil {
		return nil
	}
	var doc any
	json.Unmarshal(rec.Body.Bytes(), &doc)
	if err := spec.Components.Schemas["Error"].Value.VisitJSON(doc, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("Airlock-Error %q, but the body is not the Error shape: %v", code, err)
	}
	return nil
}
