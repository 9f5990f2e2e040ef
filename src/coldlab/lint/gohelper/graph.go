package main

// The call graph, built from the typed syntax: one node per function or method declaration, per function
// literal, and per package for its package-level variable initializers. Calls are resolved through
// go/types (Uses and Selections), so a local function that happens to be called GetSecretValue is not the
// AWS SDK's method. Calls through an interface are resolved by class hierarchy analysis over the loaded
// packages' named types.

import (
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/packages"
)

type edge struct {
	to        *node
	pos       token.Pos
	goroutine bool // the callee runs in a new goroutine (a go statement)
}

type sinkCall struct {
	kind   string // network, background, server, signal
	callee string
	what   string
	pos    token.Pos
}

type globalWrite struct {
	v   *types.Var
	how string
	pos token.Pos
}

type flagUse struct {
	v     *types.Var
	write bool
	pos   token.Pos
}

type node struct {
	name     string
	pkg      *packages.Package
	edges    []edge
	later    []edge         // function values handed to code that calls them later (HandleFunc, OnceFunc, ...)
	abstract []abstractCall // calls through interfaces, resolved after every package is collected
	sinks    []sinkCall
	writes   []globalWrite
	flags    []flagUse
	starts   []token.Pos // lambda.Start* calls made here
}

type abstractCall struct {
	method    *types.Func
	pos       token.Pos
	goroutine bool
}

type handlerRoot struct {
	n   *node
	pos token.Pos
}

type analysis struct {
	fset        *token.FileSet
	pkgs        []*packages.Package
	funcs       map[*types.Func]*node
	lits        map[*ast.FuncLit]*node
	litEdge     map[*ast.FuncLit]bool     // a literal that runs when its enclosing code runs
	litLater    map[*ast.FuncLit]bool     // a literal handed over to run later (an HTTP handler, a Once)
	values      map[*types.Var][]declared // what variables and struct fields are given (function values, descriptors)
	litGo       map[*ast.FuncLit]bool
	goCalls     map[*ast.CallExpr]bool
	lhs         map[*ast.Ident]bool // identifiers assigned to (not reads of a flag)
	inits       []*node             // init() functions and package-level initializers
	mains       map[*packages.Package]*node
	handlers    []handlerRoot
	handlerFns  map[*packages.Package][]handlerRoot
	lambdaMains map[*packages.Package]bool
	named       []*types.Named // every named type declared in the loaded packages, for interface calls
	extension   bool
	automax     []token.Pos
	maxprocs    []token.Pos
}

func newAnalysis(fset *token.FileSet, pkgs []*packages.Package) *analysis {
	return &analysis{
		fset: fset, pkgs: pkgs,
		funcs: map[*types.Func]*node{}, lits: map[*ast.FuncLit]*node{},
		litEdge: map[*ast.FuncLit]bool{}, litLater: map[*ast.FuncLit]bool{}, litGo: map[*ast.FuncLit]bool{}, goCalls: map[*ast.CallExpr]bool{}, lhs: map[*ast.Ident]bool{},
		mains: map[*packages.Package]*node{}, handlerFns: map[*packages.Package][]handlerRoot{},
		lambdaMains: map[*packages.Package]bool{},
	}
}

func (a *analysis) funcNode(fn *types.Func, pkg *packages.Package) *node {
	fn = fn.Origin()
	if n, ok := a.funcs[fn]; ok {
		return n
	}
	n := &node{name: shortName(fn), pkg: pkg}
	a.funcs[fn] = n
	return n
}

func (a *analysis) litNode(lit *ast.FuncLit, parent *node) *node {
	if n, ok := a.lits[lit]; ok {
		return n
	}
	n := &node{name: parent.name + " (func literal)", pkg: parent.pkg}
	a.lits[lit] = n
	return n
}

func shortName(fn *types.Func) string {
	name := fn.Name()
	if sig, ok := fn.Type().(*types.Signature); ok && sig.Recv() != nil {
		t := sig.Recv().Type()
		star := ""
		if p, ok := t.(*types.Pointer); ok {
			t, star = p.Elem(), "*"
		}
		if nt, ok := t.(*types.Named); ok {
			name = "(" + star + nt.Obj().Name() + ")." + name
		}
	}
	if fn.Pkg() != nil {
		return fn.Pkg().Name() + "." + name
	}
	return name
}

// collect walks one package: its declarations become nodes, its imports and strings become facts.
func (a *analysis) collect(p *packages.Package) {
	if p.TypesInfo == nil || p.Types == nil {
		return
	}
	pkgInit := &node{name: p.Name + " package-level initializers", pkg: p}
	a.inits = append(a.inits, pkgInit)
	runtimeAPI := false
	for _, f := range p.Syntax {
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if path == "go.uber.org/automaxprocs" || path == "go.uber.org/automaxprocs/maxprocs" {
				a.automax = append(a.automax, imp.Pos())
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if strings.Contains(lit.Value, "2020-01-01/extension") {
					a.extension = true
				}
				if strings.Contains(lit.Value, "AWS_LAMBDA_RUNTIME_API") || strings.Contains(lit.Value, "2018-06-01/runtime") {
					runtimeAPI = true
				}
			}
			return true
		})
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				obj, _ := p.TypesInfo.Defs[d.Name].(*types.Func)
				if obj == nil || d.Body == nil {
					continue
				}
				n := a.funcNode(obj, p)
				n.pkg = p
				if d.Recv == nil && d.Name.Name == "init" {
					n.name = p.Name + ".init"
					a.inits = append(a.inits, n)
				}
				if d.Recv == nil && d.Name.Name == "main" && p.Name == "main" {
					a.mains[p] = n
				}
				a.walk(p, n, d.Body)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok && d.Tok == token.VAR {
						for _, v := range vs.Values {
							a.walk(p, pkgInit, v)
						}
					}
					if ts, ok := spec.(*ast.TypeSpec); ok {
						if tn, ok := p.TypesInfo.Defs[ts.Name].(*types.TypeName); ok {
							if nt, ok := tn.Type().(*types.Named); ok {
								a.named = append(a.named, nt)
							}
						}
					}
				}
			}
		}
	}
	if p.Name == "main" {
		imports := p.Imports[lambdaPkg] != nil
		a.lambdaMains[p] = imports || runtimeAPI
	}
}

// walk records what the code under root does into n; function literals become nodes of their own.
func (a *analysis) walk(p *packages.Package, n *node, root ast.Node) {
	info := p.TypesInfo
	ast.Inspect(root, func(x ast.Node) bool {
		switch e := x.(type) {
		case *ast.FuncLit:
			if e == root {
				return true
			}
			child := a.litNode(e, n)
			if a.litEdge[e] {
				n.edges = append(n.edges, edge{to: child, pos: e.Pos(), goroutine: a.litGo[e]})
			} else if a.litLater[e] {
				n.later = append(n.later, edge{to: child, pos: e.Pos()})
			}
			a.walk(p, child, e.Body)
			return false
		case *ast.GoStmt:
			a.goCalls[e.Call] = true
			n.sinks = append(n.sinks, sinkCall{kind: "background", callee: "go", what: "a goroutine is started", pos: e.Pos()})
			if lit, ok := ast.Unparen(e.Call.Fun).(*ast.FuncLit); ok {
				a.litEdge[lit], a.litGo[lit] = true, true
			}
		case *ast.DeferStmt:
			if lit, ok := ast.Unparen(e.Call.Fun).(*ast.FuncLit); ok {
				a.litEdge[lit] = true
			}
		case *ast.AssignStmt:
			a.assignment(p, n, e)
		case *ast.IncDecStmt:
			if v, how := a.globalTarget(info, e.X); v != nil {
				n.writes = append(n.writes, globalWrite{v: v, how: how, pos: e.Pos()})
			}
		case *ast.ValueSpec: // local var f = func() {...}: may be called later
			for _, v := range e.Values {
				if lit, ok := ast.Unparen(v).(*ast.FuncLit); ok {
					a.litEdge[lit] = true
				}
			}
		case *ast.Ident:
			if v, ok := info.Uses[e].(*types.Var); ok && !a.lhs[e] && isFlagVar(v, p) {
				n.flags = append(n.flags, flagUse{v: v, pos: e.Pos()})
			}
		case *ast.CallExpr:
			a.call(p, n, e)
		}
		return true
	})
}

func (a *analysis) assignment(p *packages.Package, n *node, e *ast.AssignStmt) {
	info := p.TypesInfo
	for i, lhs := range e.Lhs {
		if v, how := a.globalTarget(info, lhs); v != nil {
			n.writes = append(n.writes, globalWrite{v: v, how: how, pos: lhs.Pos()})
		}
		id, ok := ast.Unparen(lhs).(*ast.Ident)
		if ok && e.Tok == token.ASSIGN {
			a.lhs[id] = true
		}
		if ok && i < len(e.Rhs) && len(e.Lhs) == len(e.Rhs) {
			v, _ := info.ObjectOf(id).(*types.Var)
			if v != nil && isFlagVar(v, p) {
				if tv, ok := info.Types[e.Rhs[i]]; ok && tv.Value != nil {
					n.flags = append(n.flags, flagUse{v: v, write: true, pos: lhs.Pos()})
				}
			}
			if v != nil && !isPackageLevel(v) {
				if lit, ok := ast.Unparen(e.Rhs[i]).(*ast.FuncLit); ok {
					a.litEdge[lit] = true // f := func() {...}: may be called later
				}
			}
		}
	}
}

// call records one call: its resolved callee as an edge (or a sink), and the function values it is given.
func (a *analysis) call(p *packages.Package, n *node, c *ast.CallExpr) {
	info := p.TypesInfo
	fun := ast.Unparen(c.Fun)
	if tv, ok := info.Types[fun]; ok && tv.IsType() {
		if named, ok := tv.Type.(*types.Named); ok && named.Obj().Pkg() != nil &&
			named.Obj().Pkg().Path() == "golang.org/x/net/websocket" && named.Obj().Name() == "Handler" {
			n.sinks = append(n.sinks, sinkCall{kind: "server", callee: "golang.org/x/net/websocket.Handler", what: "a WebSocket server", pos: c.Pos()})
		}
		for _, arg := range c.Args { // a conversion, e.g. http.HandlerFunc(f): f runs when the value is called
			a.handOver(p, n, arg)
		}
		return
	}
	goroutine := a.goCalls[c]
	if lit, ok := fun.(*ast.FuncLit); ok {
		a.litEdge[lit] = true
		a.litGo[lit] = a.litGo[lit] || goroutine
		return
	}
	callee := calleeFunc(info, fun)
	if callee == nil {
		for _, fn := range a.funcValues(info, fun) { // get := http.Get; get(url): the function the value holds
			if s := classify(info, fn, c); s != nil {
				s.pos = c.Pos()
				n.sinks = append(n.sinks, *s)
			}
			a.addCall(n, fn, p, c.Pos(), goroutine)
		}
		if id, ok := fun.(*ast.Ident); ok {
			if b, ok := info.Uses[id].(*types.Builtin); ok && b.Name() == "delete" && len(c.Args) > 0 {
				if v, how := a.globalTarget(info, &ast.IndexExpr{X: c.Args[0]}); v != nil {
					n.writes = append(n.writes, globalWrite{v: v, how: "delete from " + strings.TrimPrefix(how, "write to "), pos: c.Pos()})
				}
			}
		}
		return
	}
	full := callee.FullName()
	if full == lambdaPkg+".WithEnableSIGTERM" {
		a.extension = true // aws-lambda-go registers an internal extension, so SIGTERM is delivered
	}
	if s := classify(info, callee, c); s != nil {
		s.pos = c.Pos()
		n.sinks = append(n.sinks, *s)
	}
	if s := a.grpcStreamingService(info, callee, c); s != nil {
		n.sinks = append(n.sinks, *s)
	}
	if callee.Pkg() != nil && callee.Pkg().Path() == lambdaPkg && isStart(callee.Name()) {
		n.starts = append(n.starts, c.Pos())
		if len(c.Args) > 0 {
			for _, h := range a.handlerOf(p, n, c.Args[0]) {
				a.handlers = append(a.handlers, handlerRoot{n: h, pos: c.Pos()})
			}
		}
	}
	if full == "runtime.GOMAXPROCS" && len(c.Args) == 1 {
		if tv, ok := info.Types[c.Args[0]]; !ok || tv.Value == nil || tv.Value.String() != "0" {
			a.maxprocs = append(a.maxprocs, c.Pos())
		}
	}
	if full == "go.uber.org/automaxprocs/maxprocs.Set" {
		a.maxprocs = append(a.maxprocs, c.Pos())
	}
	if v, how := a.syncMapWrite(info, callee, fun); v != nil {
		n.writes = append(n.writes, globalWrite{v: v, how: how, pos: c.Pos()})
	}
	if sel, ok := fun.(*ast.SelectorExpr); ok && isAtomicFlagMethod(callee) {
		if v := rootVar(info, sel.X); v != nil && isPackageLevel(v) && inModule(v, p) {
			n.flags = append(n.flags, flagUse{v: v, write: true, pos: c.Pos()})
		}
	}
	deferred := runsLater(callee)
	for _, arg := range c.Args {
		arg = ast.Unparen(arg)
		if deferred {
			a.handOver(p, n, arg)
		}
		if lit, ok := arg.(*ast.FuncLit); ok && !deferred {
			a.litEdge[lit] = true
		}
		if fn := calleeFunc(info, arg); fn != nil && !deferred {
			if _, isLit := arg.(*ast.FuncLit); !isLit {
				a.addCall(n, fn, p, arg.Pos(), false)
			}
		}
	}
	a.addCall(n, callee, p, c.Pos(), goroutine)
}

func (a *analysis) addCall(n *node, fn *types.Func, p *packages.Package, pos token.Pos, goroutine bool) {
	sig, _ := fn.Type().(*types.Signature)
	if sig != nil && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
		n.abstract = append(n.abstract, abstractCall{method: fn, pos: pos, goroutine: goroutine})
		return
	}
	if fn.Pkg() == nil || !a.loaded(fn.Pkg().Path()) {
		return // a dependency's own code: its sinks are matched at the call site
	}
	n.edges = append(n.edges, edge{to: a.funcNode(fn, p), pos: pos, goroutine: goroutine})
}

func (a *analysis) loaded(path string) bool {
	for _, p := range a.pkgs {
		if p.PkgPath == path {
			return true
		}
	}
	return false
}

// calleeFunc resolves an expression naming a function or method (f, pkg.F, x.M, T.M) through go/types.
func calleeFunc(info *types.Info, e ast.Expr) *types.Func {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		fn, _ := info.Uses[x].(*types.Func)
		return fn
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[x]; ok {
			fn, _ := sel.Obj().(*types.Func)
			return fn
		}
		fn, _ := info.Uses[x.Sel].(*types.Func)
		return fn
	case *ast.IndexExpr: // f[T](...)
		return calleeFunc(info, x.X)
	case *ast.IndexListExpr:
		return calleeFunc(info, x.X)
	}
	return nil
}

// handlerOf finds the code a lambda.Start argument runs per invocation.
func (a *analysis) handlerOf(p *packages.Package, n *node, arg ast.Expr) []*node {
	info := p.TypesInfo
	arg = ast.Unparen(arg)
	if lit, ok := arg.(*ast.FuncLit); ok {
		return []*node{a.litNode(lit, n)}
	}
	if fn := calleeFunc(info, arg); fn != nil {
		return []*node{a.funcNode(fn, p)}
	}
	if call, ok := arg.(*ast.CallExpr); ok { // lambda.Start(newHandler(deps)): the literals it returns
		if fn := calleeFunc(info, call.Fun); fn != nil {
			if found := a.returnedFuncs(fn); len(found) > 0 {
				return found
			}
		}
	}
	if tv, ok := info.Types[arg]; ok && tv.Type != nil { // a lambda.Handler value: its Invoke method
		if obj, _, _ := types.LookupFieldOrMethod(tv.Type, true, nil, "Invoke"); obj != nil {
			if fn, ok := obj.(*types.Func); ok {
				return []*node{a.funcNode(fn, p)}
			}
		}
	}
	return nil
}

func (a *analysis) returnedFuncs(fn *types.Func) []*node {
	for _, p := range a.pkgs {
		for _, f := range p.Syntax {
			for _, decl := range f.Decls {
				d, ok := decl.(*ast.FuncDecl)
				if !ok || d.Body == nil || p.TypesInfo.Defs[d.Name] != fn {
					continue
				}
				var found []*node
				parent := a.funcNode(fn, p)
				ast.Inspect(d.Body, func(x ast.Node) bool {
					if r, ok := x.(*ast.ReturnStmt); ok {
						for _, res := range r.Results {
							if lit, ok := ast.Unparen(res).(*ast.FuncLit); ok {
								found = append(found, a.litNode(lit, parent))
							} else if g := calleeFunc(p.TypesInfo, res); g != nil {
								found = append(found, a.funcNode(g, p))
							}
						}
					}
					return true
				})
				return found
			}
		}
	}
	return nil
}

// resolveInterfaces turns each call through an interface into edges to the loaded types that implement it.
func (a *analysis) resolveInterfaces() {
	all := make([]*node, 0, len(a.funcs)+len(a.lits))
	for _, n := range a.funcs {
		all = append(all, n)
	}
	for _, n := range a.lits {
		all = append(all, n)
	}
	for _, n := range all {
		for _, call := range n.abstract {
			iface, _ := call.method.Type().(*types.Signature).Recv().Type().Underlying().(*types.Interface)
			if iface == nil {
				continue
			}
			for _, nt := range a.named {
				if types.IsInterface(nt) {
					continue
				}
				var recv types.Type = nt
				if !types.Implements(recv, iface) {
					recv = types.NewPointer(nt)
					if !types.Implements(recv, iface) {
						continue
					}
				}
				obj, _, _ := types.LookupFieldOrMethod(recv, true, call.method.Pkg(), call.method.Name())
				if fn, ok := obj.(*types.Func); ok {
					if existing, ok := a.funcs[fn.Origin()]; ok {
						n.edges = append(n.edges, edge{to: existing, pos: call.pos, goroutine: call.goroutine})
					}
				}
			}
		}
	}
}

func isPackageLevel(v *types.Var) bool {
	return v.Pkg() != nil && v.Parent() == v.Pkg().Scope()
}

func inModule(v *types.Var, p *packages.Package) bool {
	return v.Pkg() != nil && p.Module != nil && strings.HasPrefix(v.Pkg().Path(), p.Module.Path)
}

func isFlagVar(v *types.Var, p *packages.Package) bool {
	if !isPackageLevel(v) || !inModule(v, p) {
		return false
	}
	b, ok := v.Type().Underlying().(*types.Basic)
	return ok && b.Kind() == types.Bool
}

// rootVar is the variable an expression such as cache, cache.items or state.byID[k] starts from.
func rootVar(info *types.Info, e ast.Expr) *types.Var {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			v, _ := info.ObjectOf(x).(*types.Var)
			return v
		case *ast.SelectorExpr:
			if _, ok := info.Selections[x]; !ok { // pkg.Var
				v, _ := info.Uses[x.Sel].(*types.Var)
				return v
			}
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return nil
		}
	}
}
