package chstore

import (
	"fmt"
	"regexp"
	"strings"
)

// DDL cannot take bound parameters, so the ClickHouse schema is the one
// place where pulse substitutes text into SQL. The syntax is deliberately
// small: {{name}} with a lower-case name, replaced by a value that Params
// validated for the kind of place it goes (identifier, quoted literal or
// integer). Anything else that looks like a placeholder is an error, so a
// typo cannot reach the server as literal text.

var placeholderName = regexp.MustCompile(`^[a-z][a-z_]*$`)

// render replaces every {{name}} in tmpl with vars[name]. It refuses an
// unknown name, a malformed placeholder and stray braces pairs.
func render(tmpl string, vars map[string]string) (string, error) {
	var out strings.Builder
	out.Grow(len(tmpl))
	rest := tmpl
	for {
		open := strings.Index(rest, "{{")
		closing := strings.Index(rest, "}}")
		if open < 0 {
			if closing >= 0 {
				return "", fmt.Errorf("template line %d: \"}}\" without \"{{\"", lineOf(tmpl, rest, closing))
			}
			out.WriteString(rest)
			return out.String(), nil
		}
		if closing >= 0 && closing < open {
			return "", fmt.Errorf("template line %d: \"}}\" without \"{{\"", lineOf(tmpl, rest, closing))
		}
		end := strings.Index(rest[open+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("template line %d: \"{{\" is never closed", lineOf(tmpl, rest, open))
		}
		name := rest[open+2 : open+2+end]
		if !placeholderName.MatchString(name) {
			return "", fmt.Errorf("template line %d: malformed placeholder {{%s}} (names are lower-case letters and _)", lineOf(tmpl, rest, open), name)
		}
		value, ok := vars[name]
		if !ok {
			return "", fmt.Errorf("template line %d: unknown placeholder {{%s}} (known: %s)", lineOf(tmpl, rest, open), name, strings.Join(sortedKeys(vars), ", "))
		}
		out.WriteString(rest[:open])
		out.WriteString(value)
		rest = rest[open+2+end+2:]
	}
}

// lineOf is the 1-based line in tmpl of offset off within its suffix rest.
func lineOf(tmpl, rest string, off int) int {
	consumed := len(tmpl) - len(rest) + off
	return strings.Count(tmpl[:consumed], "\n") + 1
}
