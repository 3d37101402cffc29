package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"airlock/store/pgtest"
)

// schemaColumn is a column as the database describes it, with its type
// reduced to what both databases agree on.
type schemaColumn struct {
	Table, Name string
	Type        string // "integer", "text" or "blob"
	NotNull     bool   // for columns outside the primary key
	PK          bool
}

// schemaColumns lists every column of every table, by introspection:
// SQLite's pragma_table_info, PostgreSQL's information_schema.
func schemaColumns(t *testing.T, s *Store) []schemaColumn {
	t.Helper()
	q := `SELECT m.name, p.name, p.type, p."notnull" != 0, p.pk != 0 FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	if s.Postgres() {
		q = `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO',
			EXISTS (SELECT 1 FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
				WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema AND tc.table_name = c.table_name
				AND k.column_name = c.column_name)
			FROM information_schema.columns c WHERE c.table_schema = current_schema()`
	}
	rows, err := s.read.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []schemaColumn
	for rows.Next() {
		var c schemaColumn
		if err := rows.Scan(&c.Table, &c.Name, &c.Type, &c.NotNull, &c.PK); err != nil {
			t.Fatal(err)
		}
		switch typ := strings.ToLower(c.Type); {
		case typ == "blob" || typ == "bytea":
			c.Type = "blob"
		case strings.Contains(typ, "int"):
			c.Type = "integer"
		case typ == "text":
			c.Type = "text"
		default:
			t.Errorf("%s.%s: type %q is neither an integer, text nor a blob", c.Table, c.Name, c.Type)
		}
		if c.PK {
			c.NotNull = false // SQLite's INTEGER PRIMARY KEY says nullable; it is the row id
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b schemaColumn) int { return strings.Compare(a.Table+"."+a.Name, b.Table+"."+b.Name) })
	return out
}

// TestSchemasMatch: SQLite's and PostgreSQL's migrations build the same
// tables with the same columns (name, type, NOT NULL, primary key), and end
// at the same version. A schema change made in one directory of
// store/migrations without its file in the other fails here.
func TestSchemasMatch(t *testing.T) {
	postgresOnly(t, "it compares the two databases' schemas")
	ctx := context.Background()
	lite, err := Open(ctx, filepath.Join(t.TempDir(), "airlock.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := OpenPostgres(ctx, pgtest.EmptyDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	want, got := map[string]schemaColumn{}, map[string]schemaColumn{}
	for _, c := range schemaColumns(t, lite) {
		want[c.Table+"."+c.Name] = c
	}
	for _, c := range schemaColumns(t, pg) {
		got[c.Table+"."+c.Name] = c
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s is in SQLite's schema but not PostgreSQL's: add it to a migration in store/migrations/postgres", name)
		case g != w:
			t.Errorf("%s: PostgreSQL has %+v, SQLite %+v", name, g, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is in PostgreSQL's schema but not SQLite's: add it to a migration in store/migrations", name)
		}
	}
	lv, _ := lite.SchemaVersion(ctx)
	pv, _ := pg.SchemaVersion(ctx)
	if lv != pv {
		t.Errorf("schema versions: SQLite %d, PostgreSQL %d; want the same: a migration number stands for one schema in both", lv, pv)
	}
}

// storedText is everything the database keeps, for searching it for a
// secret in clear: on SQLite the database file and its WAL (read after
// closing the store), on PostgreSQL every value of every row, blobs as
// their bytes. The store is closed afterwards either way.
func storedText(t *testing.T, s *Store) map[string]string {
	t.Helper()
	defer s.Close()
	out := map[string]string{}
	if !s.Postgres() {
		s.Close()
		for _, p := range []string{s.Path(), s.Path() + "-wal"} {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return out
	}
	tables := map[string]bool{}
	for _, c := range schemaColumns(t, s) {
		tables[c.Table] = true
	}
	for table := range tables {
		rows, err := s.read.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var b strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if bs, ok := v.([]byte); ok {
					b.Write(bs)
				} else {
					fmt.Fprint(&b, v)
				}
				b.WriteByte('|')
			}
		}
		rows.Close()
		out["table "+table] = b.String()
	}
	return out
}
