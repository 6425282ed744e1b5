package query

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Field names one key of an event's properties or context object, as in
// --by properties.plan or --field properties.latency_ms.
//
// Grammar: ("properties" | "context") "." KEY, where KEY is 1 to 128
// characters other than whitespace, quotes and < > = !. The key is bound
// as a statement parameter, never spliced into SQL.
type Field struct {
	Source string // "properties" or "context"
	Key    string
}

func (f Field) String() string { return f.Source + "." + f.Key }

const keyChars = `[^\s"'<>=!]{1,128}`

var fieldPattern = regexp.MustCompile(`^(properties|context)\.(` + keyChars + `)$`)

// ParseField reads a field for the named flag.
func ParseField(flag, s string) (Field, error) {
	m := fieldPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Field{}, fmt.Errorf("invalid %s %q: use properties.KEY or context.KEY, e.g. properties.plan", flag, s)
	}
	return Field{Source: m[1], Key: m[2]}, nil
}

func (f Field) params(p Params, prefix string) {
	p[prefix+"source"] = f.Source
	p[prefix+"key"] = f.Key
}

// Condition compares a field with a literal, as in --where
// 'properties.status>=500'.
//
// Grammar: FIELD OP LITERAL, spaces allowed around OP, where OP is one of
// = == != <> < <= > >= and LITERAL is a number (500, -1.5, 2e3: the field's
// value is compared as a number, and a value that is missing or not a
// number never matches), a quoted string ("free" or 'free'), or a bare word
// of letters, digits and _ . - : / (both compared as text with the value's
// JSON text: true, free, 4.12.0). A missing key matches no condition.
type Condition struct {
	Field Field
	// Op is one of = != < <= > >=.
	Op string
	// Number is the literal when Numeric; Text otherwise.
	Numeric bool
	Number  float64
	Text    string
}

func (c Condition) String() string {
	if c.Numeric {
		return fmt.Sprintf("%s%s%s", c.Field, c.Op, strconv.FormatFloat(c.Number, 'g', -1, 64))
	}
	return fmt.Sprintf("%s%s%q", c.Field, c.Op, c.Text)
}

var conditionPattern = regexp.MustCompile(`^(properties|context)\.(` + keyChars + `)\s*(==|!=|<>|<=|>=|=|<|>)\s*(.+)$`)

var bareWord = regexp.MustCompile(`^[A-Za-z0-9_.\-:/]+$`)

// ParseCondition reads a --where condition.
func ParseCondition(s string) (Condition, error) {
	const hint = "use FIELD OP VALUE, e.g. 'properties.status>=500' or 'context.os=iOS' (OP: = != < <= > >=)"
	m := conditionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Condition{}, fmt.Errorf("invalid --where %q: %s", s, hint)
	}
	c := Condition{Field: Field{Source: m[1], Key: m[2]}, Op: m[3]}
	switch c.Op {
	case "==":
		c.Op = "="
	case "<>":
		c.Op = "!="
	}
	lit := strings.TrimSpace(m[4])
	switch {
	case len(lit) >= 2 && (lit[0] == '"' || lit[0] == '\'') && lit[len(lit)-1] == lit[0]:
		inner := lit[1 : len(lit)-1]
		if strings.ContainsRune(inner, rune(lit[0])) {
			return Condition{}, fmt.Errorf("invalid --where %q: the quoted value must not contain its own quote character", s)
		}
		c.Text = inner
	default:
		if n, err := strconv.ParseFloat(lit, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
			c.Numeric, c.Number = true, n
		} else if bareWord.MatchString(lit) {
			c.Text = lit
		} else {
			return Condition{}, fmt.Errorf("invalid --where %q: the value %q is not a number, a quoted string or a plain word; %s", s, lit, hint)
		}
	}
	return c, nil
}

// params binds the condition; an absent condition binds NULLs, which the
// statements read as "no condition".
func (c *Condition) params(p Params) {
	if c == nil {
		p["where_source"], p["where_key"], p["where_op"], p["where_number"], p["where_text"] = nil, nil, nil, nil, nil
		return
	}
	c.Field.params(p, "where_")
	p["where_op"] = c.Op
	p["where_number"], p["where_text"] = nil, nil
	if c.Numeric {
		p["where_number"] = c.Number
	} else {
		p["where_text"] = c.Text
	}
}
