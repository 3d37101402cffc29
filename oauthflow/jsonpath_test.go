package oauthflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decodeDoc(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLookupPath(t *testing.T) {
	doc := `{"ok":false,"authed_user":{"access_token":"xoxp-1","n":7},
		"errors":[{"code":602,"message":"expired"},{"code":"601"}],"list":[[1,2],[3]],"null":null,"a.b":1}`
	tests := []struct {
		path   string
		want   any
		wantOK bool
	}{
		{"ok", false, true},
		{"authed_user.access_token", "xoxp-1", true},
		{"authed_user.n", json.Number("7"), true},
		{"errors[0].code", json.Number("602"), true},
		{"errors[1].code", "601", true},
		{"errors[2].code", nil, false},
		{"list[0][1]", json.Number("2"), true},
		{"list[1][0]", json.Number("3"), true},
		{"null", nil, true},
		{"missing", nil, false},
		{"authed_user.missing", nil, false},
		{"ok.deeper", nil, false},      // member of a bool
		{"authed_user[0]", nil, false}, // index of an object
		{"errors.code", nil, false},    // member of an array
		{"errors[x]", nil, false},      // malformed
		{"errors[0", nil, false},       // malformed
		{"errors[-1]", nil, false},     // malformed
		{"authed_user..access_token", nil, false},
		{"a.b", nil, false}, // dots always split
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := LookupPath(decodeDoc(t, doc), tt.path)
			if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LookupPath(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestLookupPathRoot(t *testing.T) {
	got, ok := LookupPath(decodeDoc(t, `[{"x":1}]`), "[0].x")
	if !ok || got != json.Number("1") {
		t.Errorf("got %v, %v, want 1, true", got, ok)
	}
	if _, ok := LookupPath(decodeDoc(t, `{"x":1}`), ""); !ok {
		t.Errorf("empty path: got false, want the document")
	}
}

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path    string
		wantErr bool
	}{
		{"a", false}, {"a.b", false}, {"a[0].b", false}, {"[0]", false}, {"a[0][1]", false},
		{"a.", true}, {".a", true}, {"a..b", true}, {"a[", true}, {"a[b]", true},
		{"a]", true}, {"a[0]b", true}, {"a[+1]", true}, {"a.[0]", true},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if (err != nil) != tt.wantErr {
			t.Errorf("ValidatePath(%q) = %v, want error %v", tt.path, err, tt.wantErr)
		}
	}
}
