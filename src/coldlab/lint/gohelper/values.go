package main

// Values given to variables and struct fields: the functions a call through a function value may run, and
// the gRPC service descriptors a RegisterService call names.

import (
	"go/ast"
	"go/token"
	"go/types"
)

// declared: a value given to a variable or field, and the type information of the file that holds it.
type declared struct {
	expr ast.Expr
	info *types.Info
}

// valuesIndex: every value the loaded packages give a variable or a struct field (var x = v, x := v, x = v,
// s.f = v, T{f: v}), built once on first use.
func (a *analysis) valuesIndex() map[*types.Var][]declared {
	if a.values != nil {
		return a.values
	}
	a.values = map[*types.Var][]declared{}
	for _, p := range a.pkgs {
		info := p.TypesInfo
		if info == nil {
			continue
		}
		give := func(target ast.Expr, value ast.Expr) {
			if v := assignedVar(info, target); v != nil {
				a.values[v] = append(a.values[v], declared{expr: value, info: info})
			}
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(x ast.Node) bool {
				switch d := x.(type) {
				case *ast.ValueSpec:
					if len(d.Names) == len(d.Values) {
						for i, id := range d.Names {
							give(id, d.Values[i])
						}
					}
				case *ast.AssignStmt:
					if len(d.Lhs) == len(d.Rhs) && (d.Tok == token.DEFINE || d.Tok == token.ASSIGN) {
						for i, l := range d.Lhs {
							give(l, d.Rhs[i])
						}
					}
				case *ast.KeyValueExpr: // T{f: v}: the key is the field (recorded as a use)
					if id, ok := d.Key.(*ast.Ident); ok {
						if v, ok := info.Uses[id].(*types.Var); ok && v.IsField() {
							a.values[v] = append(a.values[v], declared{expr: d.Value, info: info})
						}
					}
				}
				return true
			})
		}
	}
	return a.values
}

// assignedVar: the variable or field an assignment target names (x, pkg.X, s.f).
func assignedVar(info *types.Info, e ast.Expr) *types.Var {
	switch x := ast.Unparen(e).(type) {
	case *ast.Ident:
		v, _ := info.ObjectOf(x).(*types.Var)
		return v
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[x]; ok {
			v, _ := sel.Obj().(*types.Var)
			return v
		}
		v, _ := info.Uses[x.Sel].(*types.Var)
		return v
	}
	return nil
}

// funcValues: the named functions and methods a call through a function-typed variable or field may run,
// read from the values the module gives it (literals are followed where they are written).
func (a *analysis) funcValues(info *types.Info, fun ast.Expr) []*types.Func {
	v := assignedVar(info, fun)
	if v == nil {
		return nil
	}
	if _, ok := v.Type().Underlying().(*types.Signature); !ok {
		return nil
	}
	var fns []*types.Func
	seen := map[*types.Func]bool{}
	for _, d := range a.valuesIndex()[v] {
		if fn := calleeFunc(d.info, d.expr); fn != nil && !seen[fn] {
			seen[fn] = true
			fns = append(fns, fn)
		}
	}
	return fns
}
