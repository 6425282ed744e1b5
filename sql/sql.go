// Package sql embeds every SQL statement pulse runs, one folder per dialect
// (duckdb/ for the embedded store, clickhouse/ for the production path).
// Go code binds parameters to these files. Where a statement needs
// identifiers only known at run time (backfill's column mapping), the file
// is a text/template that says where they go, and Go supplies them quoted.
// Pieces several statements of a folder share (the metrics' time buckets,
// say) live once in dialect/parts/<folder>.sql, which Composed expands.
package sql

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"text/template"
)

//go:embed duckdb all:clickhouse
var files embed.FS

// Dialect names a folder of statements.
type Dialect string

const (
	DuckDB     Dialect = "duckdb"
	ClickHouse Dialect = "clickhouse"
)

// Statement returns the SQL in dialect/name (name without .sql, may contain
// a folder, e.g. "ingest/insert_events"). A missing file is a programming
// error, so it panics; tests load every name used.
func Statement(d Dialect, name string) string {
	data, err := files.ReadFile(string(d) + "/" + name + ".sql")
	if err != nil {
		panic(fmt.Sprintf("sql: no statement %s/%s: %v", d, name, err))
	}
	return string(data)
}

// Template parses dialect/name as a text/template whose {{define}} blocks
// are statements. Like Statement, a missing or broken file panics.
func Template(d Dialect, name string) *template.Template {
	return template.Must(template.New(name).Option("missingkey=error").Parse(Statement(d, name)))
}

// Composed returns dialect/name with the shared pieces of its folder,
// dialect/parts/<folder>.sql, expanded where it uses them ({{template
// "buckets"}}). Like Statement, a missing or broken file panics.
func Composed(d Dialect, name string) string {
	folder, _, _ := strings.Cut(name, "/")
	t := template.New(name).Option("missingkey=error")
	template.Must(t.Parse(Statement(d, "parts/"+folder)))
	template.Must(t.Parse(Statement(d, name)))
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		panic(fmt.Sprintf("sql: expand %s/%s: %v", d, name, err))
	}
	return b.String()
}

// QuoteIdent quotes an identifier for DuckDB.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QuoteString writes s as a DuckDB string literal (ClickHouse also
// treats backslashes as escapes; do not use it there).
func QuoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// File is one embedded statement file.
type File struct {
	Name string // path below the dialect folder, without .sql
	SQL  string
}

// Folder lists the .sql files in dialect/dir in name order (migrations are
// numbered so that name order is apply order).
func Folder(d Dialect, dir string) ([]File, error) {
	root := string(d) + "/" + dir
	entries, err := fs.ReadDir(files, root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sql: read %s: %w", root, err)
	}
	var out []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		data, err := files.ReadFile(root + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: dir + "/" + strings.TrimSuffix(e.Name(), ".sql"), SQL: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SplitStatements splits a file holding several statements on semicolons
// at line ends. Statement files keep semicolons out of literals for this.
func SplitStatements(text string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") && cur.Len() == 0 {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			if stmt := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")); stmt != "" {
				out = append(out, stmt)
			}
			cur.Reset()
		}
	}
	if stmt := strings.TrimSpace(cur.String()); stmt != "" {
		out = append(out, stmt)
	}
	return out
}
