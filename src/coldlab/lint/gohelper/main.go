// coldlab-linthelper: loads Go packages with golang.org/x/tools/go/packages (go/parser + go/types), builds a
// call graph from the typed syntax, and prints what coldlab lint needs as one JSON document on stdout.
//
// Usage: coldlab-linthelper [-dir DIR] [PATTERN ...]   (patterns default to ./...)
//
// Progress goes to stderr as lines "progress PHASE DONE TOTAL", so a caller can draw a bar for a huge
// module. Parallelism follows GOMAXPROCS (go/packages sizes its CPU semaphore from it at start-up) and the
// go command's GOFLAGS=-p=N, both set by the caller for --jobs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"sync/atomic"

	"golang.org/x/tools/go/packages"
)

const schema = "coldlab.linthelper/1"

type position struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

type finding struct {
	Rule    string   `json:"rule"`
	Pos     position `json:"pos"`
	Call    string   `json:"call"`    // the resolved callee or construct, e.g. (*net/http.Client).Do
	Message string   `json:"message"` // what was found, in words
	Via     []string `json:"via"`     // the call path from the root (init, main, the handler) to the finding
}

type compileError struct {
	Package string   `json:"package"`
	Kind    string   `json:"kind"` // list, parse, type
	Pos     position `json:"pos"`  // zero when the error has no position
	Message string   `json:"message"`
}

type pkgInfo struct {
	Path   string   `json:"path"`
	Name   string   `json:"name"`
	Dir    string   `json:"dir"`
	Files  []string `json:"files"`
	Lambda bool     `json:"lambda"` // a main package that starts a Lambda runtime (aws-lambda-go or the Runtime API)
}

type facts struct {
	GoVersion    string     `json:"go_version"` // the main module's go line
	ModulePath   string     `json:"module_path"`
	ModuleDir    string     `json:"module_dir"`
	Lambda       bool       `json:"lambda"`
	Extension    bool       `json:"extension"` // registers a Lambda extension (the Extensions API path appears)
	LambdaStarts []position `json:"lambda_starts"`
	Automaxprocs []position `json:"automaxprocs"` // imports of go.uber.org/automaxprocs(/maxprocs)
	GOMAXPROCS   []position `json:"gomaxprocs"`   // runtime.GOMAXPROCS(n) with n other than 0, or maxprocs.Set
	Handlers     []string   `json:"handlers"`
}

type output struct {
	Schema   string         `json:"schema"`
	Packages []pkgInfo      `json:"packages"`
	Errors   []compileError `json:"errors"`
	Findings []finding      `json:"findings"`
	Facts    facts          `json:"facts"`
}

func progress(phase string, done, total int) {
	fmt.Fprintf(os.Stderr, "progress %s %d %d\n", phase, done, total)
}

func main() {
	dir := flag.String("dir", ".", "the directory to load the patterns from")
	flag.Parse()
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	out, err := run(*dir, patterns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error", err)
		os.Exit(3)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "error", err)
		os.Exit(3)
	}
}

func run(dir string, patterns []string) (*output, error) {
	// A cheap first pass (go list without compiling) sizes the progress bar.
	listed, err := packages.Load(&packages.Config{Dir: dir, Mode: packages.NeedName | packages.NeedCompiledGoFiles}, patterns...)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, p := range listed {
		total += len(p.CompiledGoFiles)
	}
	progress("list", len(listed), len(listed))
	var parsed atomic.Int64
	roots := map[string]bool{}
	for _, p := range listed {
		for _, f := range p.CompiledGoFiles {
			roots[f] = true
		}
	}
	cfg := &packages.Config{
		Dir:  dir,
		Fset: token.NewFileSet(),
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedModule,
		ParseFile: func(fset *token.FileSet, filename string, src []byte) (*ast.File, error) {
			f, err := parser.ParseFile(fset, filename, src, parser.AllErrors|parser.ParseComments)
			if roots[filename] {
				progress("parse", int(parsed.Add(1)), total)
			}
			return f, err
		},
	}
	progress("build", 0, total) // go list -export compiles the dependencies first: the long silent part
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	out := &output{Schema: schema, Packages: []pkgInfo{}, Errors: []compileError{}, Findings: []finding{}}
	out.Facts.LambdaStarts, out.Facts.Automaxprocs, out.Facts.GOMAXPROCS = []position{}, []position{}, []position{}
	out.Facts.Handlers = []string{}
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Main && out.Facts.ModulePath == "" {
			out.Facts.ModulePath, out.Facts.ModuleDir, out.Facts.GoVersion = p.Module.Path, p.Module.Dir, p.Module.GoVersion
		}
		for _, e := range p.Errors {
			out.Errors = append(out.Errors, compileError{Package: p.PkgPath, Kind: errorKind(e.Kind), Pos: parsePos(e.Pos), Message: e.Msg})
		}
	}
	a := newAnalysis(cfg.Fset, pkgs)
	for i, p := range pkgs {
		a.collect(p)
		progress("analyse", i+1, len(pkgs))
	}
	a.resolveInterfaces()
	a.report(out)
	for _, p := range pkgs {
		info := pkgInfo{Path: p.PkgPath, Name: p.Name, Dir: pkgDir(p), Files: p.CompiledGoFiles, Lambda: a.lambdaMains[p]}
		if info.Files == nil {
			info.Files = []string{}
		}
		out.Packages = append(out.Packages, info)
	}
	sort.Slice(out.Findings, func(i, j int) bool {
		x, y := out.Findings[i].Pos, out.Findings[j].Pos
		if x.File != y.File {
			return x.File < y.File
		}
		if x.Line != y.Line {
			return x.Line < y.Line
		}
		if x.Col != y.Col {
			return x.Col < y.Col
		}
		return out.Findings[i].Rule < out.Findings[j].Rule
	})
	return out, nil
}

func pkgDir(p *packages.Package) string {
	if p.Dir != "" {
		return p.Dir
	}
	return ""
}

func errorKind(k packages.ErrorKind) string {
	switch k {
	case packages.ListError:
		return "list"
	case packages.ParseError:
		return "parse"
	case packages.TypeError:
		return "type"
	}
	return "unknown"
}

// parsePos reads go/packages' "file:line:col" (or "file:line", or "-") error positions.
func parsePos(s string) position {
	var p position
	if s == "" || s == "-" {
		return p
	}
	// The file name may itself hold colons: take the numbers from the right.
	parts := []int{}
	rest := s
	for i := 0; i < 2; i++ {
		j := lastColon(rest)
		if j < 0 {
			break
		}
		n, ok := atoi(rest[j+1:])
		if !ok {
			break
		}
		parts = append([]int{n}, parts...)
		rest = rest[:j]
	}
	p.File = rest
	if len(parts) > 0 {
		p.Line = parts[0]
	}
	if len(parts) > 1 {
		p.Col = parts[1]
	}
	return p
}

func lastColon(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			return i
		}
	}
	return -1
}

func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
