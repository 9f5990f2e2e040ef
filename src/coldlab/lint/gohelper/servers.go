package main

// What runs later in a program (HTTP handlers, Once functions), and gRPC services that stream: the server
// rule follows the first and reads the second from the service descriptor, as grpc itself does.

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/packages"
)

const grpcPkg = "google.golang.org/grpc"

// handOver records a function value (or literal) passed to code that keeps it to call later: a later edge,
// which the server and SIGTERM rules follow (an HTTP handler runs when a request comes) and init does not.
func (a *analysis) handOver(p *packages.Package, n *node, arg ast.Expr) {
	arg = ast.Unparen(arg)
	if lit, ok := arg.(*ast.FuncLit); ok {
		a.litLater[lit] = true
		return
	}
	fn := calleeFunc(p.TypesInfo, arg)
	if fn == nil || fn.Pkg() == nil || !a.loaded(fn.Pkg().Path()) {
		return
	}
	if sig, _ := fn.Type().(*types.Signature); sig != nil && sig.Recv() != nil && types.IsInterface(sig.Recv().Type()) {
		return // a method value of an interface: no one body to follow
	}
	n.later = append(n.later, edge{to: a.funcNode(fn, p), pos: arg.Pos()})
}

// grpcStreamingService: a RegisterService call whose ServiceDesc declares streams (a stream is a call held
// open by the server; a frozen environment holds it without serving it). Unary-only services are left to
// the Serve finding.
func (a *analysis) grpcStreamingService(info *types.Info, fn *types.Func, c *ast.CallExpr) *sinkCall {
	switch fn.FullName() {
	case "(*" + grpcPkg + ".Server).RegisterService", "(" + grpcPkg + ".ServiceRegistrar).RegisterService":
	default:
		return nil
	}
	if len(c.Args) == 0 {
		return nil
	}
	lit, litInfo := a.descLiteral(c.Args[0], info, 0)
	if lit == nil {
		return nil // a descriptor we cannot read (a dependency's): Serve is still found
	}
	service, streams, ok := readServiceDesc(lit, litInfo)
	if !ok {
		return nil
	}
	what := "a gRPC streaming service"
	switch names := strings.Join(streams, ", "); {
	case service != "" && names != "":
		what += " (" + service + ": " + names + ")"
	case service != "" || names != "":
		what += " (" + service + names + ")"
	}
	return &sinkCall{kind: "server", callee: fn.FullName(), what: what, pos: c.Pos()}
}

// descLiteral follows &desc, pkg.Desc and local variables to the grpc.ServiceDesc composite literal; info is
// the type information of the file e is in.
func (a *analysis) descLiteral(e ast.Expr, info *types.Info, depth int) (*ast.CompositeLit, *types.Info) {
	if depth > 4 {
		return nil, nil
	}
	var id *ast.Ident
	switch x := ast.Unparen(e).(type) {
	case *ast.UnaryExpr:
		if x.Op == token.AND {
			return a.descLiteral(x.X, info, depth)
		}
	case *ast.CompositeLit:
		return x, info
	case *ast.Ident:
		id = x
	case *ast.SelectorExpr:
		if _, field := info.Selections[x]; !field { // pkg.Desc, not a struct field
			id = x.Sel
		}
	}
	if v, ok := info.Uses[id].(*types.Var); ok && id != nil {
		for _, d := range a.valuesIndex()[v] {
			if lit, litInfo := a.descLiteral(d.expr, d.info, depth+1); lit != nil {
				return lit, litInfo
			}
		}
	}
	return nil, nil
}

// readServiceDesc: the service name and stream names of a grpc.ServiceDesc literal; ok when it has streams.
func readServiceDesc(lit *ast.CompositeLit, info *types.Info) (string, []string, bool) {
	if info == nil || !isGrpcType(info.TypeOf(lit), "ServiceDesc") {
		return "", nil, false
	}
	service, streams := "", ast.Expr(nil)
	for i, elt := range lit.Elts {
		key, value := "", elt
		if kv, ok := elt.(*ast.KeyValueExpr); ok {
			id, _ := kv.Key.(*ast.Ident)
			if id != nil {
				key = id.Name
			}
			value = kv.Value
		} else { // unkeyed: ServiceName, HandlerType, Methods, Streams, Metadata
			key = [...]string{"ServiceName", "HandlerType", "Methods", "Streams", "Metadata", ""}[min(i, 5)]
		}
		switch key {
		case "ServiceName":
			service = stringConst(info, value)
		case "Streams":
			streams = value
		}
	}
	if streams == nil {
		return service, nil, false
	}
	list, ok := ast.Unparen(streams).(*ast.CompositeLit)
	if !ok {
		return service, nil, true // streams built elsewhere: assume some
	}
	names := []string{}
	for _, elt := range list.Elts {
		desc, ok := elt.(*ast.CompositeLit)
		if !ok {
			continue
		}
		for i, field := range desc.Elts {
			if kv, ok := field.(*ast.KeyValueExpr); ok {
				if id, _ := kv.Key.(*ast.Ident); id != nil && id.Name == "StreamName" {
					names = append(names, stringConst(info, kv.Value))
				}
			} else if i == 0 {
				names = append(names, stringConst(info, field))
			}
		}
	}
	return service, names, len(list.Elts) > 0
}

func isGrpcType(t types.Type, name string) bool {
	named, ok := t.(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == grpcPkg && named.Obj().Name() == name
}

func stringConst(info *types.Info, e ast.Expr) string {
	if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value)
	}
	return ""
}
