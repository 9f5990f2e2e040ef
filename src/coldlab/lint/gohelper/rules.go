package main

// What counts as a network call, a background start, a server or a SIGTERM handler: matched on the
// callee go/types resolved (its package path, receiver type and name), never on the spelling at the call.

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

const lambdaPkg = "github.com/aws/aws-lambda-go/lambda"

var networkCalls = map[string]string{
	"net/http.Get": "an HTTP request", "net/http.Post": "an HTTP request", "net/http.Head": "an HTTP request",
	"net/http.PostForm":               "an HTTP request",
	"(*net/http.Client).Do":           "an HTTP request",
	"(*net/http.Client).Get":          "an HTTP request",
	"(*net/http.Client).Post":         "an HTTP request",
	"(*net/http.Client).Head":         "an HTTP request",
	"(*net/http.Client).PostForm":     "an HTTP request",
	"(*net/http.Transport).RoundTrip": "an HTTP request",
	"net.Dial":                        "a network connection", "net.DialTimeout": "a network connection",
	"net.DialTCP": "a network connection", "net.DialUDP": "a network connection",
	"net.DialIP": "a network connection", "net.DialUnix": "a network connection",
	"(*net.Dialer).Dial": "a network connection", "(*net.Dialer).DialContext": "a network connection",
	"net.LookupHost": "a DNS lookup", "net.LookupIP": "a DNS lookup", "net.LookupAddr": "a DNS lookup",
	"net.LookupCNAME": "a DNS lookup", "net.LookupMX": "a DNS lookup", "net.LookupTXT": "a DNS lookup",
	"net.LookupSRV": "a DNS lookup", "net.LookupNS": "a DNS lookup", "net.LookupPort": "a DNS lookup",
	"crypto/tls.Dial": "a TLS connection", "crypto/tls.DialWithDialer": "a TLS connection",
	"(*crypto/tls.Dialer).DialContext": "a TLS connection",
	"net/rpc.Dial":                     "an RPC connection", "net/rpc.DialHTTP": "an RPC connection",
	"net/smtp.Dial":           "an SMTP connection",
	"(*database/sql.DB).Ping": "a database round trip", "(*database/sql.DB).PingContext": "a database round trip",
	"(*database/sql.DB).Query": "a database round trip", "(*database/sql.DB).QueryContext": "a database round trip",
	"(*database/sql.DB).QueryRow": "a database round trip", "(*database/sql.DB).QueryRowContext": "a database round trip",
	"(*database/sql.DB).Exec": "a database round trip", "(*database/sql.DB).ExecContext": "a database round trip",
	"(*database/sql.DB).Begin": "a database round trip", "(*database/sql.DB).BeginTx": "a database round trip",
	"(*database/sql.DB).Conn": "a database round trip", "(*database/sql.DB).Prepare": "a database round trip",
	"(*database/sql.DB).PrepareContext":                     "a database round trip",
	"github.com/aws/aws-sdk-go-v2/config.LoadDefaultConfig": "AWS SDK configuration (files, environment, and IMDS or SSO for credentials)",
	"google.golang.org/grpc.Dial":                           "a gRPC connection",
	"(*github.com/gorilla/websocket.Dialer).Dial":           "a WebSocket connection",
	"(*github.com/gorilla/websocket.Dialer).DialContext":    "a WebSocket connection",
	"github.com/coder/websocket.Dial":                       "a WebSocket connection",
	"google.golang.org/grpc.DialContext":                    "a gRPC connection",
	"github.com/jackc/pgx/v5.Connect":                       "a database connection",
	"(*github.com/redis/go-redis/v9.Client).Ping":           "a Redis round trip",
}

var backgroundCalls = map[string]string{
	"time.NewTicker":                         "a ticker is started",
	"time.Tick":                              "a ticker is started",
	"time.AfterFunc":                         "a timer callback is scheduled",
	"(*sync.WaitGroup).Go":                   "a goroutine is started",
	"(*golang.org/x/sync/errgroup.Group).Go": "a goroutine is started",
}

var serverCalls = map[string]string{
	"net/http.ListenAndServe": "an HTTP server", "net/http.ListenAndServeTLS": "an HTTP server",
	"net/http.Serve": "an HTTP server", "net/http.ServeTLS": "an HTTP server",
	"(*net/http.Server).ListenAndServe": "an HTTP server", "(*net/http.Server).ListenAndServeTLS": "an HTTP server",
	"(*net/http.Server).Serve": "an HTTP server", "(*net/http.Server).ServeTLS": "an HTTP server",
	"net.Listen": "a listening socket", "net.ListenTCP": "a listening socket", "net.ListenUDP": "a listening socket",
	"net.ListenPacket": "a listening socket", "net.ListenUnix": "a listening socket",
	"(*net.ListenConfig).Listen":                       "a listening socket",
	"(*google.golang.org/grpc.Server).Serve":           "a gRPC server",
	"(*github.com/gorilla/websocket.Upgrader).Upgrade": "a WebSocket server",
	"github.com/coder/websocket.Accept":                "a WebSocket server",
	"nhooyr.io/websocket.Accept":                       "a WebSocket server",
}

// classify says whether a resolved call is one the rules look for.
func classify(info *types.Info, fn *types.Func, c *ast.CallExpr) *sinkCall {
	full := fn.FullName()
	if what, ok := networkCalls[full]; ok {
		return &sinkCall{kind: "network", callee: full, what: what}
	}
	if what := awsOperation(fn); what != "" {
		return &sinkCall{kind: "network", callee: full, what: what}
	}
	if what, ok := backgroundCalls[full]; ok {
		return &sinkCall{kind: "background", callee: full, what: what}
	}
	if what, ok := serverCalls[full]; ok {
		return &sinkCall{kind: "server", callee: full, what: what}
	}
	if (full == "os/signal.Notify" || full == "os/signal.NotifyContext") && catchesSIGTERM(info, c) {
		return &sinkCall{kind: "signal", callee: full, what: "a SIGTERM handler"}
	}
	return nil
}

// awsOperation: an operation method of an AWS SDK client (v2 service clients, paginators, waiters, the S3
// transfer manager; v1 service clients), which sends a request.
func awsOperation(fn *types.Func) string {
	sig, _ := fn.Type().(*types.Signature)
	if sig == nil || sig.Recv() == nil || fn.Pkg() == nil || !fn.Exported() {
		return ""
	}
	recv := sig.Recv().Type()
	if p, ok := recv.(*types.Pointer); ok {
		recv = p.Elem()
	}
	named, ok := recv.(*types.Named)
	if !ok {
		return ""
	}
	path, typ, name := fn.Pkg().Path(), named.Obj().Name(), fn.Name()
	if rest, ok := strings.CutPrefix(path, "github.com/aws/aws-sdk-go-v2/service/"); ok && !strings.Contains(rest, "/") {
		switch {
		case typ == "Client" && name != "Options":
			return "an AWS API call (" + rest + " " + name + ")"
		case strings.HasSuffix(typ, "Paginator") && name == "NextPage":
			return "an AWS API call (" + rest + " " + strings.TrimSuffix(typ, "Paginator") + ")"
		case strings.HasSuffix(typ, "Waiter") && strings.HasPrefix(name, "Wait"):
			return "AWS API calls (" + rest + " " + typ + ")"
		}
	}
	if path == "github.com/aws/aws-sdk-go-v2/feature/s3/manager" && (name == "Upload" || name == "Download") {
		return "an AWS API call (s3 " + name + ")"
	}
	if rest, ok := strings.CutPrefix(path, "github.com/aws/aws-sdk-go/service/"); ok && !strings.Contains(rest, "/") {
		if !strings.HasSuffix(name, "Request") {
			return "an AWS API call (" + rest + " " + name + ", SDK v1)"
		}
	}
	return ""
}

func catchesSIGTERM(info *types.Info, c *ast.CallExpr) bool {
	if len(c.Args) <= 1 {
		return true // no signals named: every signal, SIGTERM included
	}
	if c.Ellipsis != token.NoPos {
		return true // a list we cannot read: assume it names SIGTERM
	}
	for _, arg := range c.Args[1:] {
		tv, ok := info.Types[arg]
		if ok && tv.Value != nil && tv.Value.Kind() == constant.Int {
			if n, exact := constant.Int64Val(tv.Value); exact && n == 15 {
				return true
			}
		}
	}
	return false
}

func isStart(name string) bool {
	return strings.HasPrefix(name, "Start") || strings.HasPrefix(name, "NewHandler")
}

// runsLater: functions that keep a function value to call after the call returns, not during it.
func runsLater(fn *types.Func) bool {
	if fn.Pkg() != nil && fn.Pkg().Path() == lambdaPkg {
		return true
	}
	switch fn.FullName() {
	case "sync.OnceFunc", "sync.OnceValue", "sync.OnceValues", "time.AfterFunc", "runtime.SetFinalizer",
		"runtime.AddCleanup", "net/http.HandleFunc", "net/http.Handle", "(*net/http.ServeMux).HandleFunc",
		"(*net/http.ServeMux).Handle":
		return true
	}
	return false
}

func isCache(t types.Type) (string, bool) {
	switch t.Underlying().(type) {
	case *types.Map:
		return "map", true
	case *types.Slice:
		return "slice", true
	}
	return "", false
}

// globalTarget: the package-level map or slice (of this module) that assigning to e writes, if any.
func (a *analysis) globalTarget(info *types.Info, e ast.Expr) (*types.Var, string) {
	e = ast.Unparen(e)
	var holder ast.Expr
	switch x := e.(type) {
	case *ast.IndexExpr:
		holder = x.X
	case *ast.Ident, *ast.SelectorExpr:
		holder = x
	default:
		return nil, ""
	}
	tv, ok := info.Types[holder]
	if !ok {
		if id, isID := holder.(*ast.Ident); isID {
			if v, isVar := info.ObjectOf(id).(*types.Var); isVar {
				tv.Type = v.Type()
			}
		}
	}
	if tv.Type == nil {
		return nil, ""
	}
	kind, ok := isCache(tv.Type)
	if !ok {
		return nil, ""
	}
	v := rootVar(info, holder)
	if v == nil || !isPackageLevel(v) || !a.declaredHere(v) {
		return nil, ""
	}
	return v, "write to package-level " + kind + " " + v.Name()
}

func (a *analysis) declaredHere(v *types.Var) bool {
	return v.Pkg() != nil && a.loaded(v.Pkg().Path())
}

func (a *analysis) syncMapWrite(info *types.Info, fn *types.Func, fun ast.Expr) (*types.Var, string) {
	switch fn.FullName() {
	case "(*sync.Map).Store", "(*sync.Map).LoadOrStore", "(*sync.Map).Swap", "(*sync.Map).Delete",
		"(*sync.Map).LoadAndDelete", "(*sync.Map).CompareAndSwap":
	default:
		return nil, ""
	}
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return nil, ""
	}
	v := rootVar(info, sel.X)
	if v == nil || !isPackageLevel(v) || !a.declaredHere(v) {
		return nil, ""
	}
	return v, "write to package-level sync.Map " + v.Name()
}

func isAtomicFlagMethod(fn *types.Func) bool {
	switch fn.FullName() {
	case "(*sync/atomic.Bool).CompareAndSwap", "(*sync/atomic.Bool).Swap", "(*sync/atomic.Bool).Store":
		return true
	}
	return false
}

// --- reachability and findings -------------------------------------------------------------------------

type reached map[*node][]string // node -> the call path (node names) from its root

// reach follows calls from roots; with later, also the function values handed over to run later (HTTP
// handlers, Once functions): code the program runs, though not at the point it is registered.
func reach(roots []*node, start []string, later ...bool) reached {
	seen := reached{}
	queue := []*node{}
	for _, r := range roots {
		if _, ok := seen[r]; !ok {
			seen[r] = append(append([]string{}, start...), r.name)
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		edges := n.edges
		if len(later) > 0 && later[0] {
			edges = append(append([]edge{}, n.edges...), n.later...)
		}
		for _, e := range edges {
			if _, ok := seen[e.to]; ok {
				continue
			}
			step := e.to.name
			if e.goroutine {
				step = "go " + step
			}
			seen[e.to] = append(append([]string{}, seen[n]...), step)
			queue = append(queue, e.to)
		}
	}
	return seen
}

func (a *analysis) pos(p token.Pos) position {
	at := a.fset.Position(p)
	return position{File: at.Filename, Line: at.Line, Col: at.Column}
}

type findingSet struct {
	a    *analysis
	seen map[string]bool
	out  *output
}

func (s *findingSet) add(rule string, p token.Pos, call, message string, via []string) {
	at := s.a.pos(p)
	key := rule + "|" + at.File + "|" + itoa(at.Line) + "|" + itoa(at.Col)
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	s.out.Findings = append(s.out.Findings, finding{Rule: rule, Pos: at, Call: call, Message: message, Via: via})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	digits := ""
	for n > 0 {
		digits = string(rune('0'+n%10)) + digits
		n /= 10
	}
	return digits
}

func (a *analysis) report(out *output) {
	set := &findingSet{a: a, seen: map[string]bool{}, out: out}
	byPath := map[string]*packages.Package{}
	for _, p := range a.pkgs {
		byPath[p.PkgPath] = p
	}
	// The packages each Lambda program links: their init work runs in that program's INIT phase.
	inLambda := map[*packages.Package]bool{}
	var mark func(p *packages.Package)
	mark = func(p *packages.Package) {
		if inLambda[p] {
			return
		}
		inLambda[p] = true
		for path := range p.Imports {
			if q, ok := byPath[path]; ok {
				mark(q)
			}
		}
	}
	for p, isLambda := range a.lambdaMains {
		if isLambda {
			mark(p)
			out.Facts.Lambda = true
		}
	}
	out.Facts.Extension = a.extension

	// 1. Network calls and background starts reachable from package-level initializers and init().
	initReach := reach(a.inits, nil)
	for n, via := range initReach {
		for _, s := range n.sinks {
			switch {
			case s.kind == "network":
				set.add("init-network", s.pos, s.callee, s.what+" at init", via)
			case s.kind == "background" && inLambda[n.pkg]:
				set.add("init-background", s.pos, s.callee, s.what+" at init", via)
			}
		}
	}
	// 2. ... and from main before lambda.Start.
	var lambdaRoots []*node
	for p, m := range a.mains {
		if !a.lambdaMains[p] {
			continue
		}
		lambdaRoots = append(lambdaRoots, m)
		startAt := a.startPos(m)
		if startAt == token.NoPos {
			continue
		}
		before := &node{name: "main (before lambda.Start)", pkg: p}
		for _, e := range m.edges {
			if e.pos < startAt {
				before.edges = append(before.edges, e)
			}
		}
		for _, s := range m.sinks {
			if s.pos < startAt {
				before.sinks = append(before.sinks, s)
			}
		}
		for n, via := range reach([]*node{before}, nil) {
			for _, s := range n.sinks {
				if s.kind == "background" {
					set.add("init-background", s.pos, s.callee, s.what+" before lambda.Start", via)
				}
			}
		}
	}
	// 3. What the handler does per invocation.
	var handlerNodes []*node
	for _, h := range a.handlers {
		if inLambda[h.n.pkg] || a.lambdaMains[h.n.pkg] {
			handlerNodes = append(handlerNodes, h.n)
			out.Facts.Handlers = append(out.Facts.Handlers, h.n.name)
		}
	}
	sort.Strings(out.Facts.Handlers)
	handlerReach := reach(handlerNodes, []string{"handler"})
	flagReads, flagWrites := map[*types.Var][]string{}, map[*types.Var]flagUse{}
	for n, via := range handlerReach {
		for _, w := range n.writes {
			set.add("handler-global-cache", w.pos, w.v.Pkg().Path()+"."+w.v.Name(), w.how+" from the handler", via)
		}
		for _, f := range n.flags {
			if f.write {
				if old, ok := flagWrites[f.v]; !ok || f.pos < old.pos {
					flagWrites[f.v] = f
				}
			} else {
				flagReads[f.v] = via
			}
		}
	}
	for v, w := range flagWrites {
		if _, read := flagReads[v]; read || isAtomicBool(v) {
			set.add("cold-start-flag", w.pos, v.Pkg().Path()+"."+v.Name(),
				"cold starts counted with the package-level flag "+v.Name(), flagReads[v])
		}
	}
	// 4. Servers and SIGTERM handlers anywhere a Lambda program runs.
	lambdaRoots = append(lambdaRoots, handlerNodes...)
	for _, n := range a.inits {
		if inLambda[n.pkg] {
			lambdaRoots = append(lambdaRoots, n)
		}
	}
	for n, via := range reach(lambdaRoots, nil, true) {
		for _, s := range n.sinks {
			switch s.kind {
			case "server":
				set.add("server-in-lambda", s.pos, s.callee, s.what+" in a Lambda function", via)
			case "signal":
				set.add("sigterm-without-extension", s.pos, s.callee, s.what+" in a Lambda function", via)
			}
		}
	}
	// Facts for the rules the Python side decides (they need the memory size and the template).
	for _, n := range a.allNodes() {
		for _, s := range n.starts {
			out.Facts.LambdaStarts = append(out.Facts.LambdaStarts, a.pos(s))
		}
	}
	for _, p := range a.automax {
		out.Facts.Automaxprocs = append(out.Facts.Automaxprocs, a.pos(p))
	}
	for _, p := range a.maxprocs {
		out.Facts.GOMAXPROCS = append(out.Facts.GOMAXPROCS, a.pos(p))
	}
	sortPositions(out.Facts.LambdaStarts)
	sortPositions(out.Facts.Automaxprocs)
	sortPositions(out.Facts.GOMAXPROCS)
}

func isAtomicBool(v *types.Var) bool {
	named, ok := v.Type().(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == "sync/atomic" && named.Obj().Name() == "Bool"
}

func sortPositions(ps []position) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line || (ps[i].Line == ps[j].Line && ps[i].Col < ps[j].Col)
	})
}

func (a *analysis) allNodes() []*node {
	all := make([]*node, 0, len(a.funcs)+len(a.lits)+len(a.inits))
	seen := map[*node]bool{}
	for _, n := range a.funcs {
		all, seen[n] = append(all, n), true
	}
	for _, n := range a.lits {
		all, seen[n] = append(all, n), true
	}
	for _, n := range a.inits {
		if !seen[n] {
			all = append(all, n)
		}
	}
	return all
}

// startPos: where main hands over to lambda.Start, directly or through the helper that calls it.
func (a *analysis) startPos(m *node) token.Pos {
	best := token.NoPos
	for _, s := range m.starts {
		if best == token.NoPos || s < best {
			best = s
		}
	}
	for _, e := range m.edges {
		if (best == token.NoPos || e.pos < best) && !e.goroutine && a.startsLambda(e.to, map[*node]bool{m: true}) {
			best = e.pos
		}
	}
	return best
}

func (a *analysis) startsLambda(n *node, seen map[*node]bool) bool {
	if seen[n] {
		return false
	}
	seen[n] = true
	if len(n.starts) > 0 {
		return true
	}
	for _, e := range n.edges {
		if !e.goroutine && a.startsLambda(e.to, seen) {
			return true
		}
	}
	return false
}
