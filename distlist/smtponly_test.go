package distlist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	modulePath = "github.com/secgate/secgate"
	smtpPath   = "github.com/emersion/go-smtp"
)

// isTestSupport reports whether a package (path relative to the module
// root) exists only for tests: internal/mailstack plays the outside world
// (a reporter's mail client), and packages named like httptest (gpgtest,
// casestest) are helpers. They may send mail, but no production file may
// import them.
func isTestSupport(pkg string) bool {
	return pkg == "internal/mailstack" || strings.HasSuffix(pkg, "test")
}

// listedPackage is what go list says of one package.
type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
	DepOnly    bool
	Error      *struct{ Err string }
}

// loadModule type-checks every non-test package of the module from its
// source, each import read from the export data go list builds, and
// returns them by import path.
func loadModule(t *testing.T, root string) (map[string]*types.Package, map[string]*types.Info, *token.FileSet, map[string][]*ast.File) {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to type-check the repository: %v", err)
	}
	cmd := exec.Command(gotool, "list", "-e", "-export", "-deps", "-json=ImportPath,Dir,GoFiles,Export,DepOnly,Error", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	var own []listedPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		exports[p.ImportPath] = p.Export
		if !p.DepOnly && (p.ImportPath == modulePath || strings.HasPrefix(p.ImportPath, modulePath+"/")) {
			own = append(own, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	pkgs, infos, files := map[string]*types.Package{}, map[string]*types.Info{}, map[string][]*ast.File{}
	for _, p := range own {
		var fs []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			fs = append(fs, f)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}}
		pkg, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, fs, info)
		if err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		pkgs[p.ImportPath], infos[p.ImportPath], files[p.ImportPath] = pkg, info, fs
	}
	return pkgs, infos, fset, files
}

// smtpTypeName returns the name of go-smtp's client-side type that t is
// (or points to): "Client" or "DataCommand"; "" for anything else.
func smtpTypeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := t.(*types.Named)
	if !ok || n.Obj().Pkg() == nil || n.Obj().Pkg().Path() != smtpPath {
		return ""
	}
	switch name := n.Obj().Name(); name {
	case "Client", "DataCommand":
		return name
	}
	return ""
}

// funcName names a function declaration as "name" or "Recv.name".
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	r := fd.Recv.List[0].Type
	if s, ok := r.(*ast.StarExpr); ok {
		r = s.X
	}
	if id, ok := r.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// smtpHolders are the only functions of the repository that may hold a
// value of go-smtp's client types: dialSMTP makes the client, and the
// methods of smtpConn keep it. Of those, only smtpConn.send may start a
// message (MAIL, RCPT) or write one (DATA), and the data writer is never
// seen anywhere else.
var smtpHolders = map[string]map[string]bool{
	"dialSMTP":       {"Client": true},
	"smtpConn.send":  {"Client": true, "DataCommand": true},
	"smtpConn.ext":   {"Client": true},
	"smtpConn.reset": {"Client": true},
	"smtpConn.quit":  {"Client": true},
	"smtpConn.close": {"Client": true},
}

// smtpWriters are go-smtp's Client methods that start or write a message.
var smtpWriters = map[string]bool{"Mail": true, "Rcpt": true, "Data": true, "LMTPData": true, "SendMail": true}

// TestNoOtherSMTPSender type-checks every non-test package of the
// repository and proves, by the types of the values rather than by what a
// file imports, that nothing but smtpConn.send can issue MAIL, RCPT or DATA:
// a value of go-smtp's Client or DataCommand type appears only in dialSMTP
// and the methods of smtpConn; Mail, Rcpt and Data are called only in
// smtpConn.send, Data exactly once, after the guard, on the very bytes the
// guard read; go-smtp's SendMail and net/smtp are never used.
// Test-support packages are exempt only as long as no production file
// imports them.
func TestNoOtherSMTPSender(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	pkgs, infos, fset, files := loadModule(t, root)
	if len(pkgs) < 8 {
		t.Fatalf("only %d packages type-checked", len(pkgs))
	}
	var datas int
	for path, pkg := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, modulePath), "/")
		support := isTestSupport(rel)
		for _, imp := range pkg.Imports() {
			if own, ok := strings.CutPrefix(imp.Path(), modulePath+"/"); ok && isTestSupport(own) && !support {
				t.Errorf("%s imports the test-support package %s", rel, own)
			}
			if imp.Path() == "net/smtp" && !support {
				t.Errorf("%s imports net/smtp: all mail must go through distlist", rel)
			}
		}
		if support {
			continue
		}
		info := infos[path]
		for _, f := range files[path] {
			for _, decl := range f.Decls {
				fn := "a package-level declaration"
				if fd, ok := decl.(*ast.FuncDecl); ok {
					fn = funcName(fd)
				}
				fn = rel + ": " + fn
				var allowed map[string]bool
				if rel == "distlist" {
					allowed = smtpHolders[strings.TrimPrefix(fn, "distlist: ")]
				}
				ast.Inspect(decl, func(n ast.Node) bool {
					switch n := n.(type) {
					case ast.Expr:
						tv, ok := info.Types[n]
						if !ok || !tv.IsValue() {
							break
						}
						if name := smtpTypeName(tv.Type); name != "" && !allowed[name] {
							t.Errorf("%s: a go-smtp %s in %s: only distlist's smtpConn holds the SMTP client", fset.Position(n.Pos()), name, fn)
							return false
						}
					}
					id, ok := n.(*ast.Ident)
					if !ok {
						return true
					}
					fobj, ok := info.Uses[id].(*types.Func)
					if !ok || fobj.Pkg() == nil || fobj.Pkg().Path() != smtpPath {
						return true
					}
					recv := fobj.Type().(*types.Signature).Recv()
					name := fobj.Name()
					switch {
					case recv == nil && strings.HasPrefix(name, "SendMail"):
						t.Errorf("%s: %s calls go-smtp's %s", fset.Position(id.Pos()), fn, name)
					case recv == nil && (strings.HasPrefix(name, "Dial") || strings.HasPrefix(name, "NewClient")) && fn != "distlist: dialSMTP":
						t.Errorf("%s: %s uses go-smtp's %s: only distlist's dialSMTP makes clients", fset.Position(id.Pos()), fn, name)
					case recv != nil && smtpTypeName(recv.Type()) == "Client" && smtpWriters[name]:
						if fn != "distlist: smtpConn.send" || name == "LMTPData" || name == "SendMail" {
							t.Errorf("%s: %s calls the SMTP client's %s outside distlist's smtpConn.send", fset.Position(id.Pos()), fn, name)
						}
						if name == "Data" {
							datas++
						}
					}
					return true
				})
				if fn == "distlist: smtpConn.send" {
					checkGuardBeforeData(t, fset, info, decl.(*ast.FuncDecl))
				}
			}
		}
	}
	if datas != 1 {
		t.Errorf("found %d calls of the SMTP client's Data, want exactly 1 (in smtpConn.send)", datas)
	}
}

// checkGuardBeforeData proves that send calls guard on a variable before
// it calls Data, writes that same variable and nothing else to the data
// writer (w.Write(msg), or msg.WriteTo(w), which writes a message read from
// its pieces only as the guard read it: TestOutMessageChangedAfterGuard),
// and never assigns the variable again.
func checkGuardBeforeData(t *testing.T, fset *token.FileSet, info *types.Info, fd *ast.FuncDecl) {
	t.Helper()
	var guarded types.Object
	var guardPos, dataPos token.Pos
	var writes []types.Object
	assigned := map[types.Object]int{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for _, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok {
					if o := info.Defs[id]; o != nil {
						assigned[o]++
					} else if o := info.Uses[id]; o != nil {
						assigned[o]++
					}
				}
			}
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.Ident:
				if f, ok := info.Uses[fun].(*types.Func); ok && f.Name() == "guard" && f.Pkg().Path() == modulePath+"/distlist" && len(n.Args) > 0 {
					if id, ok := n.Args[0].(*ast.Ident); ok {
						guarded, guardPos = info.Uses[id], n.Pos()
					}
				}
			case *ast.SelectorExpr:
				tv := info.Types[fun.X]
				switch {
				case smtpTypeName(tv.Type) == "Client" && fun.Sel.Name == "Data":
					dataPos = n.Pos()
				case smtpTypeName(tv.Type) == "DataCommand" && fun.Sel.Name == "Write" && len(n.Args) == 1:
					var o types.Object
					if id, ok := n.Args[0].(*ast.Ident); ok {
						o = info.Uses[id]
					}
					writes = append(writes, o)
				case fun.Sel.Name == "WriteTo" && len(n.Args) == 1 && smtpTypeName(info.Types[n.Args[0]].Type) == "DataCommand":
					// The guarded message writing itself (outMessage.WriteTo:
					// its bytes, or the stream whose sum the guard recorded).
					var o types.Object
					if id, ok := fun.X.(*ast.Ident); ok {
						o = info.Uses[id]
					}
					writes = append(writes, o)
				}
			}
		}
		return true
	})
	pos := fset.Position(fd.Pos())
	switch {
	case guarded == nil:
		t.Errorf("%s: smtpConn.send does not call guard on a variable holding the message", pos)
	case dataPos == token.NoPos || guardPos > dataPos:
		t.Errorf("%s: smtpConn.send calls Data before the guard", pos)
	case len(writes) != 1 || writes[0] != guarded:
		t.Errorf("%s: smtpConn.send writes something else than the bytes the guard read", pos)
	case assigned[guarded] > 1:
		t.Errorf("%s: smtpConn.send assigns the guarded bytes again after the guard could have read them", pos)
	}
}
