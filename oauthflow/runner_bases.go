package oauthflow

import (
	"net/url"
	"strings"
	"sync"
)

// baseCache remembers expanded base URLs per integration version and account
// values: expanding them was a fifth of the runner's own time per request.
type baseCache struct {
	mu sync.Mutex
	m  map[string][]*url.URL
}

func (bc *baseCache) check(in Integration, values map[string]string, u *url.URL) error {
	switch {
	case len(in.APIBaseURLs) == 0: // no base URLs: nowhere, not "anywhere"
		return &RequestError{Field: "url", Msg: "This integration has no API base URLs: add the API's origin."}
	case AllowsAnyOrigin(in):
		return nil // "*", which only an admin may set (the integration shows a warning)
	}
	return checkAgainst(bc.get(in, values), u)
}

// get is expandBases(in.APIBaseURLs, values), from the cache. The URLs are
// shared: callers copy one before changing it.
func (bc *baseCache) get(in Integration, values map[string]string) []*url.URL {
	key := baseKey(in, values)
	bc.mu.Lock()
	bases, ok := bc.m[key]
	bc.mu.Unlock()
	if !ok {
		bases = expandBases(in.APIBaseURLs, values)
		bc.mu.Lock()
		if bc.m == nil || len(bc.m) >= 4096 {
			bc.m = map[string][]*url.URL{}
		}
		bc.m[key] = bases
		bc.mu.Unlock()
	}
	return bases
}

// baseKey identifies the templates and the values that fill them, in one
// allocation (it is built on every request).
func baseKey(in Integration, values map[string]string) string {
	n := 0
	for _, t := range in.APIBaseURLs {
		n += len(t) + 1
	}
	for _, p := range in.Parameters {
		n += len(values[p.Name]) + 1
	}
	for _, c := range in.OAuth2.Capture {
		n += len(values[c.Name]) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, t := range in.APIBaseURLs {
		b.WriteString(t)
		b.WriteByte(0)
	}
	for _, p := range in.Parameters {
		b.WriteString(values[p.Name])
		b.WriteByte(0)
	}
	for _, c := range in.OAuth2.Capture { // captured values fill base URLs too
		b.WriteString(values[c.Name])
		b.WriteByte(0)
	}
	return b.String()
}
