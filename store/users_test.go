package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestUserEmailUniqueCaseInsensitive(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "Ada@Example.com", "h", RoleAdmin, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "ada@example.COM", "h", RoleViewer, false); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate email: got %v, want ErrConflict", err)
	}
	u, err := s.GetUserByEmail(ctx, " ADA@example.com ")
	if err != nil || u.Email != "ada@example.com" {
		t.Errorf("lookup: got %q (%v), want ada@example.com", u.Email, err)
	}
}

func TestCreateFirstAdminOnlyOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.SetSetting(ctx, SettingSetupCode, "hash"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateFirstAdmin(ctx, "admin"+string(rune('a'+i))+"@example.com", "h")
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("first admins created: got %d, want 1", ok)
	}
	if _, err := s.GetSetting(ctx, SettingSetupCode); !errors.Is(err, ErrNotFound) {
		t.Errorf("setup code after setup: got %v, want ErrNotFound", err)
	}
}

func TestLastAdminGuard(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	a, _ := s.CreateUser(ctx, "a@example.com", "h", RoleAdmin, false)
	b, _ := s.CreateUser(ctx, "b@example.com", "h", RoleBuilder, false)

	if err := s.SetUserRole(ctx, a.ID, RoleViewer); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demote last admin: got %v, want ErrLastAdmin", err)
	}
	if err := s.SetUserDisabled(ctx, a.ID, true); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("disable last admin: got %v, want ErrLastAdmin", err)
	}
	if err := s.SetUserRole(ctx, b.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserDisabled(ctx, a.ID, true); err != nil {
		t.Errorf("disable an admin while another exists: %v", err)
	}
	if err := s.SetUserRole(ctx, b.ID, RoleBuilder); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demote the remaining enabled admin: got %v, want ErrLastAdmin", err)
	}
	if err := s.SetUserRole(ctx, 999, RoleAdmin); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: got %v, want ErrNotFound", err)
	}
}
