package oauthflow_test

import (
	"net/url"
	"testing"
)

func queryParam(t testing.TB, raw, name string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(name)
	if v == "" {
		t.Fatalf("%s has no %s", raw, name)
	}
	return v
}
