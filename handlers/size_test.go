package handlers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceSizes keeps the HTTP layer and the accounts service readable:
// no file over 400 lines and no function over 60 in handlers/ or in the
// service's files in oauthflow/ (tests and generated code aside).
func TestSourceSizes(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range []string{"accounts*.go", "codes.go", "preview.go", "redact_json.go", "signin_*.go"} {
		more, _ := filepath.Glob(filepath.Join("..", "oauthflow", f))
		files = append(files, more...)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if n := fset.File(af.Pos()).LineCount(); n > 400 {
			t.Errorf("%s has %d lines, want at most 400: split it", f, n)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > 60 {
					t.Errorf("%s: %s has %d lines, want at most 60", f, fd.Name.Name, n)
				}
			}
		}
	}
	if checked < 40 {
		t.Fatalf("checked %d files: the globs found too few", checked)
	}
}
