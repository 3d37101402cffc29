package store

import (
	"context"
	"errors"
	"testing"

	"airlock/oauthflow"
)

// TestConstraintErrorsByCode: duplicates and missing parents are told apart
// by SQLite's extended result codes, and each maps to the store's sentinel.
func TestConstraintErrorsByCode(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', '1')`); err != nil {
		t.Fatal(err)
	}
	_, dup := s.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ('x', '2')`)
	_, fk := s.write.ExecContext(ctx, `INSERT INTO accounts (id, integration_id, name, parameters, status, created_at, updated_at)
		VALUES ('acc_x', 999, 'n', '{}', 'pending', 0, 0)`)
	tests := []struct {
		name        string
		err         error
		unique, fkv bool
	}{
		{"duplicate primary key", dup, true, false},
		{"missing parent", fk, false, true},
		{"other error", errors.New("UNIQUE constraint failed: FOREIGN KEY"), false, false},
		{"nil", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isUniqueViolation(tt.err); got != tt.unique {
				t.Errorf("isUniqueViolation(%v) = %v, want %v", tt.err, got, tt.unique)
			}
			if got := isForeignKeyViolation(tt.err); got != tt.fkv {
				t.Errorf("isForeignKeyViolation(%v) = %v, want %v", tt.err, got, tt.fkv)
			}
		})
	}
	if _, err := s.CreateAccount(ctx, oauthflow.Account{IntegrationID: 999, Name: "orphan"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("account of a missing integration: got %v, want ErrNotFound", err)
	}
	if _, err := s.AcquireLease(ctx, "acc_missing", "h", 1e9); !errors.Is(err, ErrNotFound) {
		t.Errorf("lease of a missing account: got %v, want ErrNotFound", err)
	}
}
