{{/*
Backfill's bulk lane: DuckDB reads a Parquet file (or a CSV slice that
backfill spooled, with its row and line numbers in front) and stores the
rows that are certainly valid without one Go call per row: into the
embedded store with one INSERT ... SELECT ("insert"), or for ClickHouse as
a Parquet file that ClickHouse reads itself ("spool").

The Go event contract stays the judge. The checks in "go_rows" are a
conservative subset of it: every row they pass, the contract accepts and
normalises to the same event (backfill's differential tests hold them to
that, for both targets). The rows they do not pass go to Go and through
the contract, which stores or rejects them with its own message.

Template data (backfill.bulkPlan): .Parquet (with .ParquetFile, the file
as parquet.sql's "file" reads it, or "unnumbered_file" when .Positional)
or .CSV; .Field "name" is the source column feeding an event field: .Src
as the source names it (quoted), .Col the name the step's rows give it
("" when absent), .Kind from the column type; .Columns are the source
columns the rows read, {Src, As}; .Extras are the columns that become
properties, each {Key: SQL string literal, Col}, and .Members the same
with the properties column's own members among them ({Props: true}), in
column order: the order the contract's lane writes them in;
.ClickHouse picks "spool" over "insert" and the stricter "number";
.Stage names a CSV step's stage table (see "stage"); .DerivedID: the
source has no event_id column (see "content_id"), .IDs the table of a
Parquet step's derived ids (see "derive_ids"), .DerivedLate that no stage
holds them; .Checked and .IDText (see "read") say how the statement
normalises text ts and event_id.
Parameters: $1 the file, $2 and $3 the 1-based row range [from, to).
*/}}

{{define "source"}}
{{- if .Parquet}}{{.ParquetFile}}
{{- else}}read_csv($1, header = true, auto_detect = false, new_line = '\n', delim = {{.CSVDelim}}, quote = '"', escape = '"', strict_mode = true, null_padding = false, parallel = true, columns = {{.CSVColumns}})
{{- end}}
{{- end}}

{{define "rows"}}
{{- if .Parquet}}file_row_number >= $2 - 1 AND file_row_number < $3 - 1
{{- else}}CAST(src_row AS BIGINT) >= $2 AND CAST(src_row AS BIGINT) < $3
{{- end}}
{{- end}}

{{/* A string field: CSV cells are never typed, an empty cell is absent. */}}
{{define "text"}}
{{- if not .Col}}CAST(NULL AS VARCHAR)
{{- else if eq .Kind "text"}}{{if .CSV}}nullif({{.Col}}, ''){{else}}{{.Col}}{{end}}
{{- else}}CAST(NULL AS VARCHAR){{end}}
{{- end}}

{{/* properties or context as JSON text, read from the source (.Src): a
string column holds the text, a struct or map is rendered by DuckDB. */}}
{{define "object"}}
{{- if not .Src}}CAST(NULL AS VARCHAR)
{{- else if eq .Kind "text"}}{{if .CSV}}nullif({{.Src}}, ''){{else}}{{.Src}}{{end}}
{{- else if eq .Kind "nested"}}CAST(to_json({{.Src}}) AS VARCHAR)
{{- else}}'not an object'{{end}}
{{- end}}

{{/* The rows of the step, normalised: read from the source, or from the
step's stage table (CSV), which holds them normalised already. The stage
form names $1 to $3 too, so that every statement takes the same
parameters. */}}
{{define "normalized"}}
{{- if .Stage}}
SELECT * FROM {{.Stage}} WHERE row_no >= $2 AND row_no < $3 AND CAST($1 AS VARCHAR) IS NOT NULL
{{- else}}
{{- template "read" .}}
{{- end}}
{{- end}}

{{/* read: the step's rows, each field normalised as the checks read it.
Text ts and event_id are matched against their exact forms in go_rows
and stage; the other statements (.Checked) read rows whose fate go_rows
decided, and cast alone: for a row go_rows passed the cast gives the same
value, and a row it did not pass goes to the contract whatever they make
of it (the insert leaves it out, a copy or stored match of it is
ignored, ts bounds only widen). The patterns cost more than the casts,
and Parquet is read by each statement again.

A text event_id read from the source (.IDText: Parquet, whose every
statement reads the file) stays text: DuckDB's parsing of a UUID costs
more than all the rest of a row's reading, and only the insert needs
the UUID. go_rows matches it against the canonical form; the other
statements key on its lower case, which for a canonical text is the
UUID's own text ("event_uuid" turns it into the UUID).

The properties column as read (p_in) comes along only when extra columns
are merged into n_props (go_rows checks it apart); otherwise it is
n_props, and a CSV stage would hold it twice (a fifth of the stage's
cost). */}}
{{define "event_uuid"}}
{{- if .IDText}}TRY_CAST(n_event_id AS UUID)
{{- else if .IDs}}CASE WHEN d.row_no = c.row_no THEN d.id ELSE error('backfill: derived ids out of step with the rows') END
{{- else}}n_event_id{{end}}
{{- end}}

{{/* Derived ids are read here like every other field: a source without
an event_id column (.DerivedID) has each row's id derived from its
content (see "content_id"); a row whose event_id column holds no id
(null; an empty CSV cell) gets one as the contract's lane gives it
(.AbsentIDs: the column may lack some), "id_absent" telling those rows
from the ones whose id is invalid, which the contract refuses. A
statement that does not name n_event_id does not compute them (DuckDB
drops the unused column); .AbsentIDs makes every statement read the
fields the id hashes, so for Parquet it is set only when the column's
statistics count nulls. */}}
{{define "read"}}
{{- if .DerivedID}}
SELECT * REPLACE ({{template "content_id"}} AS n_event_id) FROM ({{template "fields" .}})
{{- else if .AbsentIDs}}
SELECT * EXCLUDE (id_absent) REPLACE (CASE WHEN id_absent THEN {{if .IDText}}CAST({{template "content_id"}} AS VARCHAR){{else}}{{template "content_id"}}{{end}} ELSE n_event_id END AS n_event_id)
FROM ({{template "fields" .}})
{{- else}}{{template "fields" .}}{{end}}
{{- end}}

{{/* epoch_ms: the epoch ms of an integer .Expr that counts .Unit
(--ts-unit) since the epoch, as the contract's lane reads it (floored to
the millisecond); NULL (the contract's lane) before 1970 or after 9999,
where the multiplication could also overflow. */}}
{{define "epoch_ms"}}CASE WHEN {{.Expr}} BETWEEN 0 AND
    {{- if eq .Unit "s"}} 253402300799 THEN {{.Expr}} * 1000
    {{- else if eq .Unit "ms"}} 253402300799999 THEN {{.Expr}}
    {{- else if eq .Unit "us"}} 253402300799999999 THEN {{.Expr}} // 1000
    {{- else}} 9223372036854775807 THEN {{.Expr}} // 1000000{{end}} END{{end}}

{{/* epoch_text: the epoch ms of a text .Expr of digits, with a fraction of
at most 9 digits or none, counting .Unit; NULL for other text. The
fraction is read as digits, floored to the millisecond as the contract's
lane does (a double would make 1790669993.645 s 644 ms; a DECIMAL cast
costs DuckDB 15 µs a row): only seconds keep any of it, and split_part
gives the whole text, and no fraction, when there is no point. */}}
{{define "epoch_text"}}CASE WHEN regexp_full_match({{.Expr}}, '[0-9]{1,18}(\.[0-9]{1,9})?') THEN {{template "epoch_ms" (.With (printf "CAST(split_part(%s, '.', 1) AS BIGINT)" .Expr))}}
        {{- if eq .Unit "s"}} + CAST(left(rpad(split_part({{.Expr}}, '.', 2), 3, '0'), 3) AS BIGINT){{end}} END{{end}}

{{define "fields"}}
SELECT
    row_no,
    {{template "text" .Field "event"}} AS n_event,
    {{template "text" .Field "tenant_id"}} AS n_tenant,
    {{template "text" .Field "user_id"}} AS n_user,
    {{template "text" .Field "session_id"}} AS n_session,
    {{- with .Field "ts"}}
    {{if not .Col}}CAST(NULL AS BIGINT)
    {{- else if and (eq .Kind "text") $.Checked (not $.TSUnit)}}epoch_ms(TRY_CAST({{.Col}} AS TIMESTAMPTZ))
    {{- else if and (eq .Kind "text") $.Checked}}coalesce({{template "epoch_text" ($.WithUnit .Col)}}, epoch_ms(TRY_CAST({{.Col}} AS TIMESTAMPTZ)))
    {{- else if eq .Kind "text"}}CASE WHEN regexp_full_match({{.Col}}, '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?){{if $.ZonelessUTC}}?{{end}}') THEN epoch_ms(TRY_CAST({{.Col}} AS TIMESTAMPTZ))
        {{- if $.TSUnit}} ELSE {{template "epoch_text" ($.WithUnit .Col)}}{{end}} END
    {{- else if and (eq .Kind "timestamp") (not $.NaiveInGo)}}epoch_ms(CAST({{.Col}} AS TIMESTAMP))
    {{- else if eq .Kind "timestamptz"}}epoch_ms({{.Col}})
    {{- else if and (eq .Kind "integer") $.TSUnit}}{{template "epoch_ms" (printf "TRY_CAST(%s AS BIGINT)" .Col | $.WithUnit)}}
    {{- /* A double as DuckDB renders it, the text the contract's lane reads. */}}
    {{- else if and (eq .Kind "double") $.TSUnit}}{{template "epoch_text" (printf "CAST(%s AS VARCHAR)" .Col | $.WithUnit)}}
    {{- else}}CAST(NULL AS BIGINT){{end}} AS ts_ms,
    {{- end}}
    {{- with .Field "event_version"}}
    {{if not .Col}}1
    {{- else if and (eq .Kind "text") .CSV}}CASE WHEN nullif({{.Col}}, '') IS NULL THEN 1 WHEN regexp_full_match({{.Col}}, '[1-9][0-9]{0,9}') AND CAST({{.Col}} AS BIGINT) <= 2147483647 THEN CAST({{.Col}} AS INTEGER) END
    {{- else if eq .Kind "integer"}}CASE WHEN {{.Col}} IS NULL THEN 1 WHEN {{.Col}} BETWEEN 1 AND 2147483647 THEN CAST({{.Col}} AS INTEGER) END
    {{- else}}CASE WHEN {{.Col}} IS NULL THEN 1 END{{end}} AS n_version,
    {{- end}}
    {{- with .Field "event_id"}}
    {{if not .Col}}CAST(NULL AS UUID)
    {{- else if and $.IDText $.Checked}}lower({{.Col}})
    {{- else if eq .Kind "text"}}CASE WHEN regexp_full_match({{.Col}}, '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}') AND {{.Col}} <> '00000000-0000-0000-0000-000000000000' THEN {{if $.IDText}}{{.Col}}{{else}}CAST({{.Col}} AS UUID){{end}} END
    {{- else if eq .Kind "uuid"}}CASE WHEN {{.Col}} <> CAST('00000000-0000-0000-0000-000000000000' AS UUID) THEN {{.Col}} END
    {{- else}}CAST(NULL AS UUID){{end}} AS n_event_id,
    {{- if $.AbsentIDs}}
    {{if .CSV}}nullif({{.Col}}, ''){{else}}{{.Col}}{{end}} IS NULL AS id_absent,
    {{- end}}
    {{- end}}
    {{- if .Extras}}
    CASE WHEN p_in IS NOT NULL AND NOT json_valid(p_in) THEN 'not json'
        WHEN list_has_any(coalesce(json_keys(p_in), []), [{{range $i, $e := .Extras}}{{if $i}}, {{end}}CASE WHEN {{template "extra_value" $e}} IS NOT NULL THEN {{$e.Key}} END{{end}}]) THEN 'extra column clashes with a key'
        ELSE '{' || concat_ws(',', {{range $i, $m := .Members}}{{if $i}},{{end}}
            {{if $m.Props}}nullif(substr(p_in, 2, length(p_in) - 2), ''){{else}}CASE WHEN {{template "extra_value" $m}} IS NOT NULL THEN {{template "extra_member" $m}} END{{end}}{{end}}) || '}' END AS n_props,
    {{- /* Each extra member as the contract writes it: go_rows checks them
    apart from the properties column's own, not the merged text, which an
    extra column of distinct values (a double) makes distinct per row. */}}
    {{range $i, $e := .Extras}}{{if $i}} AND {{end}}({{template "extra_value" $e}} IS NULL OR regexp_full_match({{template "extra_member" $e}}, '{{template "member" ($.Object "")}}')){{end}} AS extras_ok,
    {{- else}}
    p_in AS n_props,
    {{- end}}
    c_in AS n_ctx{{if .Extras}},
    p_in{{end}}
FROM ({{template "columns" .}})
{{- end}}

{{/* An extra column's value (an empty CSV cell is none), and its member
of properties. */}}
{{define "extra_value"}}{{if .CSV}}nullif({{.Col}}, ''){{else}}{{.Col}}{{end}}{{end}}
{{define "extra_member"}}CAST(to_json({{.Key}}) AS VARCHAR) || ':' || CAST(to_json({{template "extra_value" .}}) AS VARCHAR){{end}}

{{/* columns: the rows of the step, each source column it needs under a
name of the lane's own (.Columns: c0, c1, ... by position), with row_no
and properties and context as JSON text (p_in, c_in). Naming every column
here, never selecting *, is what keeps a source column named like one of
the lane's values (p_in, row_no, n_props) from being read in its place.
A Parquet file with a column of its own named file_row_number (.Positional)
hides DuckDB's row numbers: its rows are numbered by position instead, a
window over the whole file in order (DuckDB keeps the scan's order for
it), read up to the step's last row. */}}
{{define "columns"}}
{{- if .Positional}}
SELECT * FROM (
    SELECT row_number() OVER () AS row_no{{template "picked" .}}
    FROM {{.ParquetFile}}
    LIMIT $3 - 1
) WHERE row_no >= $2
{{- else}}
SELECT {{if .Parquet}}file_row_number + 1{{else}}CAST(src_row AS BIGINT){{end}} AS row_no{{template "picked" .}}
FROM {{template "source" .}}
WHERE {{template "rows" .}}
{{- end}}
{{- end}}

{{define "picked"}}
{{- range .Columns}}, {{.Src}} AS {{.As}}{{end}}, {{template "object" .Field "properties"}} AS p_in, {{template "object" .Field "context"}} AS c_in
{{- end}}

{{/* The keys of a properties-like object the contract accepts as it is
(given it holds no key twice and at most 256), joined by NUL characters
(no key holds one), or NULL. The pattern is a subset of JSON: one
compact object of at most 30,000 bytes whose keys have 1 to 128
characters, start with a visible
ASCII character other than '"', ':' or '\' and hold no escapes or control
characters; whose values are strings, numbers (see "number"), true,
false or, into the embedded store, null (kept as it is by the contract;
a struct column renders the fields a row lacks so; ClickHouse's maps
hold no null, so for ClickHouse it goes to the contract). Strings must
be written as the contract stores them (ingest.AppendJSONString re-encodes every string):
'"' and '\' as \" and \\, newline, carriage return and tab as \n, \r and
\t, the other control characters as \u00xx in lower case, and every other
character as it is (DEL, U+2028, '<', '/' too). A string written another
way (\/, \b, \u00e9, \u001F) is valid but stored re-encoded, so it goes to
the contract; so does any key with an escape. json_keys runs only on text
the pattern accepted (CASE): it fails on anything else. The argument is a
bulkObject: .Expr the text. */}}
{{define "keys"}}CASE WHEN strlen({{.Expr}}) <= 30000
    AND regexp_full_match({{.Expr}}, '\{({{template "member" .}}(,{{template "member" .}})*)?\}')
    THEN array_to_string(json_keys({{.Expr}}), chr(0)) END
{{- end}}

{{/* One key and its value; members are separated by commas, with none
after the last (DuckDB's JSON functions would take {"k":1,}). */}}
{{define "member"}}"[!#-9;-\[\]-~][^"\\\x00-\x1f]{0,127}":({{template "string"}}|{{template "number" .}}|true|false{{if not .NoNull}}|null{{end}}){{end}}

{{/* A string value in the contract's own encoding (see "keys"). */}}
{{define "string"}}"([^"\\\x00-\x1f]|\\["\\nrt]|\\u00(0[0-8bcef]|1[0-9a-f]))*"{{end}}

{{/* A number value: any JSON number, which the contract keeps as written
(a double as DuckDB renders it has up to 17 digits, or an exponent). For
ClickHouse's events_bulk (.AsParsed) the engine parses the object
(JSONExtract in its view) and renders a number from its value: only
numbers that read back as written pass, integers other than -0 and
decimals of at most 15 significant digits (9 before the point, 6 after)
that end in a non-zero digit (measured against chDB on 2,200 numbers).
The others go to the contract, which keeps them as written, or, when
they are many, the file's steps go to events_bulk_raw ("go_rows_raw"). */}}
{{define "number"}}
{{- if .AsParsed}}(-?[1-9][0-9]{0,14}|0|-?(0|[1-9][0-9]{0,8})\.[0-9]{0,5}[1-9])
{{- else}}-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?{{end}}
{{- end}}

{{/* object_keys: the distinct texts of a properties-like column of n
(.Expr), each as v with its keys as "keys" gives them (key_list, NULL for
a text the contract must judge). Materialised: "bad_objects" reads it
twice. */}}
{{define "object_keys"}}
    SELECT v, {{template "keys" (.Named "v")}} AS key_list
    FROM (SELECT {{.Expr}} AS v FROM n GROUP BY {{.Expr}})
{{- end}}

{{/* bad_objects: the texts of an object_keys table (the argument) that
the contract must judge: those "keys" refuses, and those whose keys are
more than 256 or hold one twice. Objects repeat their keys far more than
their texts (a few key lists for millions of texts, whose values vary):
the keys are compared once per distinct key list, which costs DuckDB a
fraction of comparing them per text. */}}
{{define "bad_objects"}}SELECT v FROM {{.Table}}
        WHERE (key_list IS NULL AND v IS NOT NULL)
            OR key_list IN (SELECT key_list FROM (
                SELECT key_list, string_split(any_value(key_list), chr(0)) AS k FROM {{.Table}} WHERE key_list IS NOT NULL GROUP BY key_list)
                WHERE len(k) > {{.Max}} OR list_unique(k) <> len(k)){{end}}

{{/* visible: the string (a column) is not blank, holding a visible ASCII
character. Most start with one, which ascii() tells at a fifth of the
cost of a regular expression; the others take the full match of
'(?s).*[!-~].*', itself a seventh of the cost of the search
regexp_matches(x, '[!-~]') in DuckDB. */}}
{{define "visible"}}CASE WHEN ascii({{.}}) BETWEEN 33 AND 126 THEN true ELSE regexp_full_match({{.}}, '(?s).*[!-~].*') END{{end}}

{{/* go_rows: the rows in [$2, $3) that are not certainly valid, whose
ts is later than $4 (epoch ms: now plus the allowed clock skew), or whose
event could reach $5 bytes, the contract's limit. A NULL anywhere makes
the row the contract's. Objects are checked once per distinct text
(object_keys): context repeats a few combinations across millions of
rows, properties often too, and parsing them is the dearest check. n is
NOT MATERIALIZED: DuckDB would otherwise copy the step into a table for
its reads, which cost twice as much as reading it again (0.8 s against
0.4 s for a 491,520-row Parquet step); the distinct texts are fewer, and
each is parsed once.

ts_ms 0 goes to the contract too: epoch_ms rounds towards zero, so it also
holds the instants in the millisecond before 1970, which the contract
refuses (it truncates towards the past).

The size bound: the contract measures the event JSON the row-by-row lane
builds from the row. A row the other checks pass has properties and
context (extra columns merged in) already as the contract writes them, so
they count as they are; a string field counts at most 6 bytes a byte (a
control character escaped as \u00xx) plus its quotes; names, punctuation,
ts, event_id and event_version take less than the 512 bytes added. */}}
{{define "go_rows"}}
WITH n AS NOT MATERIALIZED ({{template "normalized" .}}),
{{- if not .Extras}}
props_keys AS MATERIALIZED ({{template "object_keys" ($.Object "n_props")}}),
{{- end}}
ctx_keys AS MATERIALIZED ({{template "object_keys" ($.Object "n_ctx")}}){{if .Extras}},
props_in_keys AS MATERIALIZED ({{template "object_keys" ($.Object "p_in")}}){{end}}
SELECT row_no
FROM n
WHERE NOT coalesce(
    regexp_full_match(n_event, '[ -~]{1,128}') AND {{template "visible" "n_event"}}
    AND regexp_full_match(n_tenant, '[A-Za-z0-9._-]{1,64}')
    AND strlen(n_user) <= 256 AND {{template "visible" "n_user"}}
    AND strlen(n_session) <= 256 AND {{template "visible" "n_session"}}
    AND ts_ms BETWEEN 1 AND $4
    AND n_version IS NOT NULL
    {{- if not .DerivedID}}
    AND n_event_id IS NOT NULL
    {{- end}}
    AND 512 + 6 * (strlen(n_event) + strlen(n_tenant) + strlen(n_user) + strlen(n_session))
        + coalesce(strlen(n_props), 0) + coalesce(strlen(n_ctx), 0) < $5
    {{- if .Extras}}
    AND extras_ok AND starts_with(n_props, '{'), false)
    OR p_in IN ({{template "bad_objects" ($.KeysOf "props_in_keys" (len .Extras))}})
    {{- else}}, false)
    OR n_props IN ({{template "bad_objects" ($.KeysOf "props_keys" 0)}})
    {{- end}}
    OR n_ctx IN ({{template "bad_objects" ($.KeysOf "ctx_keys" 0)}})
{{- end}}

{{/* copies: the event_ids that more than one row in [$2, $3) shares, as
the first and last of those rows and how many they are ("all_copies"
lists the rows of an event_id held more than twice). Those rows go to the
contract's path, which stores each event (tenant_id, event_id, ts) once
and counts the rest as duplicates: rows that share the event_id alone are
told apart there, and grouping by the UUID (or a text event_id's lower
case, see "read") alone costs DuckDB less than the three-column key. A last row (copies NULL) carries the range's ts
bounds (epoch ms) for the insert's duplicate check, from a second read of
ts alone: as a grouping set of the same aggregate, the bounds cost a min
and a max per event_id too (a third more). No per-key lists: memory stays
with the number of event_ids. */}}
{{define "copies"}}
WITH n AS NOT MATERIALIZED ({{template "normalized" .}})
SELECT min(row_no) AS first_row, max(row_no) AS last_row, count(*) AS copies,
    CAST(NULL AS BIGINT) AS min_ts, CAST(NULL AS BIGINT) AS max_ts
FROM n
{{- if not .DerivedID}}
WHERE n_event_id IS NOT NULL
{{- end}}
GROUP BY {{template "copy_key" .}}
HAVING count(*) > 1
UNION ALL
SELECT NULL, NULL, NULL, min(ts_ms), max(ts_ms) FROM n
{{- end}}

{{/* stage: a CSV step's rows, read and normalised once into an in-memory
table that every other statement of the step reads: parsing CSV is the
dearest part of reading it. Derived ids are computed here once. */}}
{{define "stage"}}CREATE OR REPLACE TABLE {{.Stage}} AS {{template "read" .}}{{end}}

{{/* content_id: the event_id of a row without one, derived from its
content as backfill's contentID derives it in Go: the MD5 of tenant_id,
user_id, event, ts (epoch milliseconds), session_id and properties joined
by NUL characters, as a UUID's 16 bytes. For a row go_rows passes, these
are what the contract stores (properties included, "{}" when absent), so
both lanes give an event the same id; for the others it does not matter,
the contract derives theirs. NULL in a field makes it NULL; go_rows sends
such a row to the contract for that field. MD5 costs DuckDB about as much
per row as the rest of the insert's reading: without a stage (Parquet,
.DerivedLate) only "derive_ids" (for the insert) or "spool" read every
row's id; "copies" groups by a hash instead (see "copy_key"), and
"stored" derives ids only for the rows that share tenant_id and ts with
a stored event. */}}
{{define "content_id"}}CAST(unhex(md5(n_tenant || chr(0) || n_user || chr(0) || n_event || chr(0) || CAST(ts_ms AS VARCHAR) || chr(0) || n_session || chr(0) || coalesce(n_props, '{}'))) AS UUID){{end}}

{{define "drop_stage"}}DROP TABLE IF EXISTS {{.Stage}}{{end}}

{{/* derive_ids: the derived ids of the step's rows [$2, $3) in row order
(.IDs), computed beside the step's checks: MD5 in the insert made the
pipeline's longest stretch a third longer. The insert takes them by
POSITIONAL JOIN, which costs next to nothing and, unlike a join on
row_no, leaves no small row groups behind (see "for_contract"). Both
sides read the rows in order (the store's DuckDB runs one thread); the
insert fails, rather than storing an id on the wrong row, if they ever
do not. */}}
{{define "derive_ids"}}CREATE OR REPLACE TABLE {{.IDs}} AS
SELECT row_no, n_event_id AS id FROM ({{template "normalized" .}}){{end}}

{{define "drop_ids"}}DROP TABLE IF EXISTS {{.IDs}}{{end}}

{{/* copy_key: what copies share. A derived id is a function of the
fields "content_id" reads, so rows with one id share DuckDB's 64-bit
hash of them, properties aside: a row whose properties the contract
re-encodes (go_rows sends it to the contract) may be stored with the
same text as another row's. Rows that share the hash alone (properties
differ, or the hash collides) go to the contract too, which stores each
as its own event. */}}
{{define "copy_key"}}
{{- if .DerivedID}}hash(n_tenant, n_user, n_event, ts_ms, n_session)
{{- else}}n_event_id{{end}}
{{- end}}

{{define "all_copies"}}
WITH k AS (
    SELECT row_no, {{template "copy_key" .}} AS copy_key
    FROM ({{template "normalized" .}})
    {{- if not .DerivedID}}
    WHERE n_event_id IS NOT NULL
    {{- end}}
)
SELECT row_no
FROM k
SEMI JOIN (SELECT copy_key FROM k GROUP BY ALL HAVING count(*) > 2) copies
    USING (copy_key)
{{- end}}

{{/* for_contract: whether row c.row_no of [$2, $3) is one the insert
leaves out (for the contract, or stored already), marked by a '1' at its
offset from $2 in the mask (the argument, a parameter of '0's and '1's):
a lookup per row whatever the number of rows marked. A NOT IN list would
join, and joins in the insert leave row groups of 2,048 rows behind each
step that the checkpoint then rewrites, 1 to 2 s per million rows. */}}
{{define "for_contract"}}get_bit(CAST({{.}} AS BIT), CAST(c.row_no - $2 AS INTEGER)) = 1{{end}}

{{/* stored: the rows of [$2, $3) whose event is stored already (same
tenant_id, event_id and ts; $4 and $5 bound the ts range, in epoch ms, so
that zonemaps skip blocks: bounds of ts's own type, which a time.Time
parameter, a TIMESTAMPTZ, is not; ts would be cast to it row by row). A
query of its own, before the insert in its transaction: as a NOT EXISTS
inside the insert, DuckDB spent more on the check than on the insert
itself (1.8 s of 2.8 s for three 491,520-row steps), and a join in the
insert leaves small row groups behind (see "for_contract"). Ids derived
without a stage (.DerivedLate) are derived here only for the rows that
share tenant_id and ts with a stored event: the rows are read without
their n_event_id. */}}
{{define "stored"}}
WITH e AS (SELECT tenant_id, event_id, ts FROM events WHERE ts BETWEEN make_timestamp($4 * 1000) AND make_timestamp($5 * 1000))
{{- if .DerivedLate}},
c AS (
    SELECT r.row_no, r.n_tenant, r.n_user, r.n_event, r.ts_ms, r.n_session, r.n_props FROM ({{template "normalized" .}}) AS r
    SEMI JOIN e ON e.tenant_id = r.n_tenant AND e.ts = make_timestamp(r.ts_ms * 1000)
)
SELECT c.row_no
FROM (SELECT row_no, n_tenant, ts_ms, {{template "content_id"}} AS n_event_id FROM c) AS c
{{- else}}
SELECT c.row_no
FROM ({{template "normalized" .}}) AS c
{{- end}}
SEMI JOIN e ON e.tenant_id = c.n_tenant AND {{if .IDText}}CAST(e.event_id AS VARCHAR){{else}}e.event_id{{end}} = c.n_event_id AND e.ts = make_timestamp(c.ts_ms * 1000)
{{- end}}

{{/* insert: the rows of [$2, $3) that are not marked in $5 (the rows for
the contract and those stored already, as a mask: see "for_contract"),
with ingested_at $4. The store runs DuckDB on one thread for backfill
(backfill.OpenEmbedded), which reads the rows in order and so appends
full row groups: read on two threads, they would leave part-filled row
groups side by side that the final checkpoint merges and rewrites. */}}
{{define "insert"}}
INSERT INTO events (tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context, ingested_at)
SELECT n_tenant, make_timestamp(ts_ms * 1000), n_event, n_user, n_session, {{template "event_uuid" .}}, n_version,
    coalesce(n_props, '{}'), coalesce(n_ctx, '{}'), $4
FROM ({{template "normalized" .}}) AS c{{if .IDs}} POSITIONAL JOIN {{.IDs}} AS d{{end}}
WHERE NOT {{template "for_contract" "$5"}}
{{- end}}

{{/* spool (ClickHouse): the rows of [$2, $3) that are not marked in $4
(the rows for the contract, see "for_contract"), as a Parquet file at $5 with the
columns of events_bulk, sorted by the events table's sorting key
(tenant_id, toDate(ts), event, user_id, ts, event_id): ClickHouse then
finds the block sorted and skips sorting it. */}}
{{define "spool"}}
COPY (
    SELECT n_tenant AS tenant_id, make_timestamp(ts_ms * 1000) AS ts, n_event AS event, n_user AS user_id,
        n_session AS session_id, {{template "event_uuid" .}} AS event_id, n_version AS event_version,
        coalesce(n_props, '{}') AS properties, coalesce(n_ctx, '{}') AS context
    FROM ({{template "normalized" .}}) AS c
    WHERE NOT {{template "for_contract" "$4"}}
    ORDER BY tenant_id, ts_ms // 86400000, event, user_id, ts_ms, event_id
) TO $5 (FORMAT parquet)
{{- end}}

{{/* go_rows_raw (ClickHouse, .Raw): as "go_rows", for steps that go to
events_bulk_raw: any number passes, kept as written there. */}}
{{define "go_rows_raw"}}{{template "go_rows" .}}{{end}}

