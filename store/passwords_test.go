package store

import (
	"strings"
	"testing"
)

func TestDummyPasswordHashCostsAVerifyAndMatchesNothing(t *testing.T) {
	p := PasswordParams{Memory: 64, Time: 3, Threads: 1}
	dummy := DummyPasswordHash(p)
	real, err := HashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	// Same format and cost parameters as a real hash: a verify against it
	// derives a key just as expensively.
	if got, want := strings.Split(dummy, "$")[1:4], strings.Split(real, "$")[1:4]; strings.Join(got, "$") != strings.Join(want, "$") {
		t.Errorf("dummy hash parameters: got %v, want %v", got, want)
	}
	for _, pw := range []string{"", "correct horse battery", "anything at all"} {
		ok, err := VerifyPassword(pw, dummy)
		if err != nil || ok {
			t.Errorf("verify %q against the dummy: got %v, %v; want false, nil", pw, ok, err)
		}
	}
	if DummyPasswordHash(p) == dummy {
		t.Error("two dummy hashes are equal: the salt and key must be random")
	}
}
