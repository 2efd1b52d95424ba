package codesize

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/corpus"
)

// skipped are folders whose code is not Postern's own or not production.
var skipped = map[string]bool{".git": true, "testdata": true, "go-smtp": true}

// TestSizes fails for every production function over MaxFuncLines lines
// (declaration to closing brace, function literals counted in the function
// holding them) and every production file over MaxFileLines.
func TestSizes(t *testing.T) {
	root := corpus.RepoRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if skipped[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		rel, _ := filepath.Rel(root, p)
		if n := fset.File(f.Pos()).LineCount(); n > MaxFileLines {
			t.Errorf("%s has %d lines (at most %d): split it by concern", rel, n, MaxFileLines)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > MaxFuncLines {
				t.Errorf("%s:%d: %s has %d lines (at most %d)", rel, start.Line, fd.Name.Name, n, MaxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d production files under %s: the walk missed the tree", files, root)
	}
}
