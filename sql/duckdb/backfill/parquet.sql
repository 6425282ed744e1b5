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
