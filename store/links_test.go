package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestConnectLinkClaims: a claim is exclusive until released or lapsed, and
// a connection spends every link of the account, claimed or not.
func TestConnectLinkClaims(t *testing.T) {
	s, clk := openClocked(t)
	ctx := context.Background()
	s.sealer, _ = NewSealer(make([]byte, KeySize))
	a, other := newAccount(t, s), newAccount(t, s)
	l1, _ := s.CreateConnectLink(ctx, "tok-1", a.ID, "me", 30*time.Minute)
	l2, _ := s.CreateConnectLink(ctx, "tok-2", a.ID, "me", 30*time.Minute)
	l3, _ := s.CreateConnectLink(ctx, "tok-3", other.ID, "me", 30*time.Minute)
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"first claim", func() error { return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-a", time.Minute) }, nil},
		{"second claim while held", func() error { return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-b", time.Minute) }, ErrLinkInUse},
		{"release by another holder is a no-op", func() error { return s.ReleaseConnectLink(ctx, l1.TokenHash, "flow-b") }, nil},
		{"still held", func() error { return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-b", time.Minute) }, ErrLinkInUse},
		{"release by the holder", func() error { return s.ReleaseConnectLink(ctx, l1.TokenHash, "flow-a") }, nil},
		{"claim after release", func() error { return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-b", time.Minute) }, nil},
		{"claim lapses", func() error {
			clk.Add(61 * time.Second)
			return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-c", time.Minute)
		}, nil},
		{"unknown link", func() error { return s.ClaimConnectLink(ctx, "nope", "flow-c", time.Minute) }, ErrNotFound},
		{"spend the account's links", func() error { return s.SpendConnectLinks(ctx, a.ID) }, nil},
		{"claimed link spent", func() error { return s.ClaimConnectLink(ctx, l1.TokenHash, "flow-d", time.Minute) }, ErrLinkSpent},
		{"other link spent", func() error { return s.ClaimConnectLink(ctx, l2.TokenHash, "flow-d", time.Minute) }, ErrLinkSpent},
		{"another account's link untouched", func() error { return s.ClaimConnectLink(ctx, l3.TokenHash, "flow-d", time.Minute) }, nil},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Errorf("%s: got %v, want %v", st.name, err, st.want)
		}
	}
	if _, err := s.GetConnectLink(ctx, "tok-2"); !errors.Is(err, ErrLinkSpent) {
		t.Errorf("open a spent link: got %v, want ErrLinkSpent", err)
	}
}
