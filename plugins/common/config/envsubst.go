package config

import (
	"fmt"
	"strings"
)

// SubstituteEnv replaces environment variables in a TOML text the way
// Telegraf does before it parses its config:
//
//	${VAR}          value of VAR; kept as written when VAR is not set
//	${VAR:-word}    word when VAR is unset or empty
//	${VAR-word}     word when VAR is unset
//	${VAR:?msg}     error when VAR is unset or empty
//	${VAR?msg}      error when VAR is unset
//	$VAR            like ${VAR}
//	$$              a literal $
//
// Comment lines are left alone, so a commented-out example never fails.
func SubstituteEnv(text string, lookup func(string) (string, bool)) (string, error) {
	var out strings.Builder
	out.Grow(len(text))
	for lineNo, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			out.WriteString(line)
			continue
		}
		if err := substituteLine(&out, line, lookup); err != nil {
			return "", fmt.Errorf("line %d: %w", lineNo+1, err)
		}
	}
	return out.String(), nil
}

func substituteLine(out *strings.Builder, line string, lookup func(string) (string, bool)) error {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '$' || i+1 >= len(line) {
			out.WriteByte(c)
			continue
		}
		next := line[i+1]
		switch {
		case next == '$':
			out.WriteByte('$')
			i++
		case next == '{':
			end := strings.IndexByte(line[i+2:], '}')
			if end < 0 {
				out.WriteByte(c)
				continue
			}
			expr := line[i+2 : i+2+end]
			value, err := expand(expr, lookup)
			if err != nil {
				return err
			}
			if value == nil { // unset and no default: keep the text as Telegraf does
				out.WriteString(line[i : i+3+end])
			} else {
				out.WriteString(*value)
			}
			i += 2 + end
		case isNameStart(next):
			j := i + 1
			for j < len(line) && isNameChar(line[j]) {
				j++
			}
			if v, ok := lookup(line[i+1 : j]); ok {
				out.WriteString(v)
			} else {
				out.WriteString(line[i:j])
			}
			i = j - 1
		default:
			out.WriteByte(c)
		}
	}
	return nil
}

// expand evaluates the inside of ${...}; nil means "leave the text as is".
func expand(expr string, lookup func(string) (string, bool)) (*string, error) {
	n := 0
	for n < len(expr) && isNameChar(expr[n]) {
		n++
	}
	name, op := expr[:n], expr[n:]
	if name == "" || !isNameStart(name[0]) {
		return nil, nil // like ${1}: not a variable, keep it
	}
	value, set := lookup(name)
	switch {
	case op == "":
		if !set {
			return nil, nil
		}
		return &value, nil
	case strings.HasPrefix(op, ":-"):
		if !set || value == "" {
			word := op[2:]
			return &word, nil
		}
		return &value, nil
	case strings.HasPrefix(op, "-"):
		if !set {
			word := op[1:]
			return &word, nil
		}
		return &value, nil
	case strings.HasPrefix(op, ":?"):
		if !set || value == "" {
			return nil, fmt.Errorf("environment variable %s is required: %s", name, op[2:])
		}
		return &value, nil
	case strings.HasPrefix(op, "?"):
		if !set {
			return nil, fmt.Errorf("environment variable %s is required: %s", name, op[1:])
		}
		return &value, nil
	}
	return nil, nil
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }
