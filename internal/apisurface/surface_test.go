package apisurface

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = "../.."

// budget is the most exported names each library package may have. The
// whole module may have at most moduleBudget. Raise a number only with a
// reason a reviewer accepts: every name is one more thing a reader learns.
var budget = map[string]int{
	".":                  18,
	"gen":                9,
	"identity":           90,
	"identity/codexhome": 52,
	"identity/gateway":   50,
	// Metrics (Collector: Describe, Collect), New, and the three hooks
	// Observe, KeysReloaded, UpstreamError.
	"identity/gateway/gatewaymetrics": 7,
	"identity/identitytest":           38,
}

const moduleBudget = 260

// exportedNames lists the public API of the package in dir as
// "kind Name" or "method Type.Name", sorted. Test files are not counted.
func exportedNames(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		if f.Name.Name == "main" {
			continue
		}
		files = append(files, f)
	}
	types := map[string]bool{}
	var names []string
	for _, f := range files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range g.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						types[s.Name.Name] = true
						names = append(names, "type "+s.Name.Name)
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							names = append(names, g.Tok.String()+" "+n.Name)
						}
					}
				}
			}
		}
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || !fd.Name.IsExported() {
				continue
			}
			if fd.Recv == nil {
				names = append(names, "func "+fd.Name.Name)
				continue
			}
			t := fd.Recv.List[0].Type
			if s, ok := t.(*ast.StarExpr); ok {
				t = s.X
			}
			switch x := t.(type) {
			case *ast.IndexExpr:
				t = x.X
			case *ast.IndexListExpr:
				t = x.X
			}
			if id, ok := t.(*ast.Ident); ok && types[id.Name] {
				names = append(names, "method "+id.Name+"."+fd.Name.Name)
			}
		}
	}
	sort.Strings(names)
	return names
}

// libraryPackages lists the directories (relative to the module root) of
// every non-internal package that is not a command.
func libraryPackages(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		base := d.Name()
		if rel != "." && (strings.HasPrefix(base, ".") || base == "internal" || base == "testdata" || base == "cmd" || base == "interop" || base == "docs") {
			return filepath.SkipDir
		}
		if len(exportedNames(t, p)) > 0 || rel == "." {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// TestExportedSurface keeps each package, and the module, within budget.
// Run with -v to see every name counted.
func TestExportedSurface(t *testing.T) {
	total := 0
	for _, dir := range libraryPackages(t) {
		names := exportedNames(t, filepath.Join(root, dir))
		total += len(names)
		t.Run(strings.ReplaceAll(dir, "/", "_"), func(t *testing.T) {
			max, ok := budget[dir]
			require.True(t, ok, "package %s has no budget: add it to the table", dir)
			for _, n := range names {
				t.Log(n)
			}
			assert.LessOrEqual(t, len(names), max, "package %s exports %d names, budget %d", dir, len(names), max)
		})
	}
	t.Logf("module: %d exported names", total)
	assert.LessOrEqual(t, total, moduleBudget, "the module exports %d names, budget %d", total, moduleBudget)
}
