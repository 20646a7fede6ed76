package config

import (
	"os"
	"strings"

	"github.com/compose-spec/compose-go/template"
	"github.com/compose-spec/compose-go/utils"
	"github.com/influxdata/toml/ast"
)

// substituteEnv replaces environment variables in every string value of
// the parsed file, the way Telegraf 1.37 does with --strict-env-handling
// (its default from v1.38 on; config/envvar.go), with the same template
// package:
//
//	${VAR}          value of VAR; kept as written when VAR is not set
//	${VAR:-word}    word when VAR is unset or empty
//	${VAR-word}     word when VAR is unset
//	${VAR:?msg}     error when VAR is unset or empty
//	${VAR?msg}      error when VAR is unset
//	$VAR            like ${VAR}
//	$$              a literal $
//
// Comments are gone before (removeComments), so a commented-out example
// never fails; and since only parsed string values are touched, a value
// holding quotes or backslashes cannot change the TOML around it.
// Variables outside strings (n = ${N}) are a TOML syntax error, as in
// Telegraf.
func substituteEnv(node any, lookup template.Mapping) error {
	options := []template.Option{
		template.WithReplacementFunction(func(s string, m template.Mapping, cfg *template.Config) (string, error) {
			result, applied, err := template.DefaultReplacementAppliedFunc(s, m, cfg)
			if err == nil && !applied {
				return s, nil // an unset ${VAR} stays as written
			}
			if err != nil && strings.HasPrefix(err.Error(), "Invalid template:") {
				return s, nil // not a variable (${1}): kept
			}
			return result, err
		}),
		template.WithoutLogging,
	}
	// The error of the first string in the file, whatever the order of
	// the walk.
	var first *stringError
	err := walkStrings(node, func(s *ast.String) error {
		v, err := template.SubstituteWithOptions(s.Value, lookup, options...)
		if err != nil {
			if first == nil || s.Pos() < first.s.Pos() {
				first = &stringError{s, err}
			}
			return nil
		}
		s.Value = v
		return nil
	})
	if first != nil {
		return first
	}
	return err
}

// environ is the process environment as substituteEnv reads it.
func environ() template.Mapping {
	env := utils.GetAsEqualsMap(os.Environ())
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// stringError is a substitution error in the string value s.
type stringError struct {
	s   *ast.String
	err error
}

func (e *stringError) Error() string { return e.err.Error() }

func walkStrings(node any, f func(*ast.String) error) error {
	switch n := node.(type) {
	case *ast.Table:
		for _, v := range n.Fields {
			if err := walkStrings(v, f); err != nil {
				return err
			}
		}
	case []*ast.Table:
		for _, v := range n {
			if err := walkStrings(v, f); err != nil {
				return err
			}
		}
	case *ast.Array:
		for _, v := range n.Value {
			if err := walkStrings(v, f); err != nil {
				return err
			}
		}
	case *ast.KeyValue:
		return walkStrings(n.Value, f)
	case *ast.String:
		return f(n)
	}
	return nil
}
