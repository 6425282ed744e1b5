{{/*
How backfill reads a Parquet file's rows. Template data: .BytesID, the
quoted event_id column when it holds binaries ("" otherwise).
Parameters: $1 the file, then per statement.
*/}}

{{/* file: the rows of $1 with their file_row_number (0-based). An event_id
of raw 16-byte binaries (FIXED_LEN_BYTE_ARRAY(16) without the UUID
annotation, as some writers store UUIDs) reads as the UUID's text; other
binaries keep DuckDB's escaped text, which the contract refuses with the
value in its message. */}}
{{define "file"}}
{{- if .BytesID}}(SELECT * REPLACE (coalesce(CAST(TRY_CAST({{.BytesID}} AS UUID) AS VARCHAR), CAST({{.BytesID}} AS VARCHAR)) AS {{.BytesID}}) FROM read_parquet($1, file_row_number = true))
{{- else}}read_parquet($1, file_row_number = true){{end}}
{{- end}}

{{/* rows: rows [$2, $3) (0-based file row numbers), in file order (the
reading connection runs one thread, so the scan is sequential), each
column rendered as JSON text: typed values keep their JSON type, and
backfill splices the cells into event JSON without parsing whole rows.
The filter on file_row_number lets DuckDB skip the row groups outside the
range. */}}
{{define "rows"}}
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT * EXCLUDE (file_row_number)
    FROM {{template "file" .}}
    WHERE file_row_number >= $2 AND file_row_number < $3
) AS t
{{- end}}

{{/* listed_rows: the rows whose 1-based numbers are in $2 (a list literal
such as [3,17]), in file order, rendered as "rows" does: the bulk lane
hands these rows to the event contract. */}}
{{define "listed_rows"}}
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT * EXCLUDE (file_row_number)
    FROM {{template "file" .}}
    WHERE file_row_number + 1 IN (SELECT unnest(CAST($2 AS BIGINT[])))
    ORDER BY file_row_number
) AS t
{{- end}}

{{/* unnumbered_file: the rows of $1 as "file" reads them, without row
numbers: for a file with a column of its own named file_row_number (in any
case), which DuckDB's row numbers cannot sit beside (its file_row_number
option refuses such a file). Such a file's rows are numbered by position
instead: row_number() over the file, which DuckDB computes in file order,
whatever the threads (bulk.sql's "columns", and the "_by_position"
statements below). Nothing prunes row groups then: every read scans the
file from its start. */}}
{{define "unnumbered_file"}}
{{- if .BytesID}}(SELECT * REPLACE (coalesce(CAST(TRY_CAST({{.BytesID}} AS UUID) AS VARCHAR), CAST({{.BytesID}} AS VARCHAR)) AS {{.BytesID}}) FROM read_parquet($1))
{{- else}}read_parquet($1){{end}}
{{- end}}

{{/* rows_by_position and listed_rows_by_position: "rows" and
"listed_rows" for such a file. The position is never a column (it could
be a column's name too): QUALIFY filters on it, and the LIMIT ends the
scan at the last row wanted. */}}
{{define "rows_by_position"}}
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT *
    FROM {{template "unnumbered_file" .}}
    QUALIFY row_number() OVER () > $2
    LIMIT $3 - $2
) AS t
{{- end}}

{{define "listed_rows_by_position"}}
SELECT CAST(to_json(COLUMNS(*)) AS VARCHAR)
FROM (
    SELECT *
    FROM {{template "unnumbered_file" .}}
    QUALIFY row_number() OVER () IN (SELECT unnest(CAST($2 AS BIGINT[])))
    LIMIT len(CAST($2 AS BIGINT[]))
) AS t
{{- end}}
