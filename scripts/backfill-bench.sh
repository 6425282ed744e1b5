#!/usr/bin/env bash
# Measures `pulse backfill` on generated data (default 2,000,000 events):
#
#   1. Parquet and CSV into a fresh embedded store: rows/s, CPU seconds and
#      peak RSS (/usr/bin/time -v), plus the same files with --dry-run
#      (the checks without the store) and DuckDB's own INSERT ... SELECT
#      of the file (the store's write alone) to show where the time goes;
#   2. Parquet into ClickHouse side by side with the engine's own
#      INSERT INTO events SELECT ... FROM file('....parquet') on the same
#      file and the same (chDB) engine.
#
#   scripts/backfill-bench.sh [ROWS]
#
# The ClickHouse engine is chDB behind scripts/chdb_http.py (no ClickHouse
# server can run here): pulse's bulk lane sends each checked step as a
# Parquet body over HTTP through a single-threaded Python adapter that holds
# one engine lock, and pulse's own checks share the two cores with the
# engine, while the engine's own INSERT ... SELECT reads the file
# in-process. The engine's statement also does less work: no contract
# checks, and properties parsed by JSONExtract (numbers not kept as
# written).
#
# Environment: PULSE_BENCH_DIR (default /tmp/pulse-backfill-bench; the
# generated files are kept there and reused), PULSE_BENCH_CHDB_PORT (default
# 38124), PULSE_BENCH_SKIP_CLICKHOUSE=1 to measure the embedded store only,
# PULSE_BENCH_ROUNDS (default 3) ClickHouse rounds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly ROWS="${1:-2000000}"
readonly WORK="${PULSE_BENCH_DIR:-/tmp/pulse-backfill-bench}"
readonly CHDB_PORT="${PULSE_BENCH_CHDB_PORT:-38124}"
readonly PULSE="$WORK/pulse" DUCKDBSQL="$WORK/duckdbsql"

log() { echo "backfill-bench: $*" >&2; }

[[ "$ROWS" =~ ^[0-9]+$ ]] || { log "ROWS must be a number"; exit 2; }
[[ -x /usr/bin/time ]] || { log "needs /usr/bin/time (apt-get install time)"; exit 1; }
mkdir -p "$WORK"
log "building pulse"
go build -o "$PULSE" .
go build -o "$DUCKDBSQL" ./scripts/duckdbsql

# The generator's users make about 44 events each over the 60 days: one
# per 40 rows asked for (at least 50,000) keeps ROWS within its reach.
readonly USERS=$((ROWS / 40 > 50000 ? ROWS / 40 : 50000))
gen() { # format file
	if [[ ! -s "$2" ]]; then
		log "generating $ROWS events as $1 ($2)"
		"$PULSE" gen --seed 1 --users "$USERS" --tenants 20 --days 60 --end 2026-10-01 --max-events "$ROWS" --format "$1" --out "$2" >/dev/null
	fi
}
gen ndjson "$WORK/events-$ROWS-u$USERS.ndjson"
gen csv "$WORK/events-$ROWS-u$USERS.csv"
readonly NDJSON="$WORK/events-$ROWS-u$USERS.ndjson" CSV="$WORK/events-$ROWS-u$USERS.csv" PARQUET="$WORK/events-$ROWS-u$USERS.parquet"
# Rates are of the rows the files hold, which the generator may leave
# short of ROWS.
EVENTS="$(wc -l <"$NDJSON")"
readonly EVENTS
(( EVENTS == ROWS )) || log "the generator made $EVENTS events, not $ROWS: rates are of $EVENTS rows"

DSN=""
cleanup() { [[ -n "$DSN" ]] && scripts/chdb.sh stop "$CHDB_PORT" >/dev/null 2>&1 || true; }
trap cleanup EXIT
chq() { # query [expect output]
	local out
	out="$(curl -sS --fail-with-body --data-binary "$1" "$DSN")" || { log "query failed: $1: $out"; exit 1; }
	printf '%s' "$out"
}

# The engine writes the Parquet file (ts a UTC timestamp, properties and
# context JSON text), which is also what a ClickHouse export looks like.
log "starting the chDB adapter"
DSN="$(scripts/chdb.sh start "$CHDB_PORT")"
if [[ ! -s "$PARQUET" ]]; then
	log "converting to Parquet with the engine"
	chq "INSERT INTO FUNCTION file('$PARQUET', Parquet) SELECT * FROM file('$NDJSON', JSONEachRow, 'event_id UUID, event String, user_id String, tenant_id String, session_id String, ts DateTime64(3, \\'UTC\\'), event_version UInt32, properties String, context String')" >/dev/null
fi
# The same rows as DuckDB writes Parquet (122,880-row row groups, where
# the engine writes about a million): DuckDB reads a row group on one
# thread, so the layout decides how a step's rows are read.
readonly PARQUET_DUCKDB="${PARQUET%.parquet}-duckdb.parquet"
if [[ ! -s "$PARQUET_DUCKDB" ]]; then
	if ! "$DUCKDBSQL" "" "COPY (SELECT * FROM read_parquet('$PARQUET')) TO '$PARQUET_DUCKDB' (FORMAT parquet)" 2>"$WORK/duckdbsql.log"; then
		cat "$WORK/duckdbsql.log" >&2
		log "rewriting the Parquet file with DuckDB failed"
		exit 1
	fi
fi

# The same rows without the event_id column: their ids are derived from
# their content (docs/backfill.md, Idempotency), by DuckDB in the bulk lane.
readonly PARQUET_NOID="${PARQUET%.parquet}-noid.parquet" CSV_NOID="${CSV%.csv}-noid.csv"
if [[ ! -s "$PARQUET_NOID" || ! -s "$CSV_NOID" ]]; then
	if ! "$DUCKDBSQL" "" "COPY (SELECT * EXCLUDE (event_id) FROM read_parquet('$PARQUET')) TO '$PARQUET_NOID' (FORMAT parquet)" \
		"COPY (SELECT * EXCLUDE (event_id) FROM read_csv('$CSV', header = true, all_varchar = true)) TO '$CSV_NOID' (HEADER)" 2>"$WORK/duckdbsql.log"; then
		cat "$WORK/duckdbsql.log" >&2
		log "writing the files without event_id failed"
		exit 1
	fi
fi

# adapter_cpu prints the CPU seconds the chDB adapter (the engine) has used.
adapter_cpu() {
	local pid
	pid="$(<"/tmp/pulse-chdb-$CHDB_PORT/chdb_http.pid")"
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$pid/stat"
}

RESULTS=()
# measure NAME ROWS -- command...: runs it under /usr/bin/time -v and
# records wall time, rows/s, CPU seconds and peak RSS.
measure() {
	local name="$1" rows="$2"
	shift 3
	local tlog="$WORK/time.log"
	if ! /usr/bin/time -v "$@" >"$WORK/out.log" 2>"$tlog"; then
		cat "$WORK/out.log" "$tlog" >&2
		log "$name failed"
		exit 1
	fi
	local wall user sys rss secs
	wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tlog")"
	user="$(sed -n 's/.*User time (seconds): //p' "$tlog")"
	sys="$(sed -n 's/.*System time (seconds): //p' "$tlog")"
	rss="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tlog")"
	secs="$(awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }' <<<"$wall")"
	RESULTS+=("$(printf '%-50s %10s rows %8.1fs %10.0f rows/s  cpu %6.1fs  peak RSS %5d MB' "$name" "$rows" "$secs" "$(awk "BEGIN { print $rows / $secs }")" "$(awk "BEGIN { print $user + $sys }")" "$((rss / 1024))")")
	log "${RESULTS[-1]}"
	grep -E '^(rows read|loaded|rejected|skipped)' "$WORK/out.log" >&2 || true
}

fresh_store() {
	rm -rf "$WORK/bench.db" "$WORK/bench.db.wal" "$WORK/bench.db.backfill"
	"$PULSE" schema apply --data "$WORK/bench.db" >/dev/null
}

# engine_insert FILE prints DuckDB's own INSERT ... SELECT of the file into
# the store's events table: run with the store's settings, it gives the
# engine's speed with no contract checks, no duplicate detection and no
# rollups, the floor under what pulse backfill can reach on the same file.
engine_insert() {
	local from
	case "$1" in
	*.parquet) from="read_parquet('$1')" ;;
	*.csv) from="read_csv('$1', header = true, auto_detect = false, columns = {'event_id': 'UUID', 'event': 'VARCHAR', 'user_id': 'VARCHAR', 'tenant_id': 'VARCHAR', 'session_id': 'VARCHAR', 'ts': 'TIMESTAMPTZ', 'event_version': 'INTEGER', 'properties': 'VARCHAR', 'context': 'VARCHAR'})" ;;
	esac
	echo "INSERT INTO events (tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context, ingested_at) SELECT tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context, now() FROM $from"
}

for f in "$PARQUET" "$PARQUET_DUCKDB" "$CSV"; do
	kind="${f##*.}"
	[[ "$f" == "$PARQUET_DUCKDB" ]] && kind="parquet by DuckDB"
	measure "dry run (checks, no store), $kind" "$EVENTS" -- "$PULSE" backfill "$f" --dry-run --rejects "$WORK/rejects.ndjson"
	fresh_store
	measure "embedded store, $kind" "$EVENTS" -- "$PULSE" backfill "$f" --data "$WORK/bench.db" --rejects "$WORK/rejects.ndjson"
	fresh_store
	measure "DuckDB's own INSERT..SELECT (no checks), $kind" "$EVENTS" -- "$DUCKDBSQL" "$WORK/bench.db" "$(engine_insert "$f")" CHECKPOINT
done

for f in "$PARQUET_NOID" "$CSV_NOID"; do
	fresh_store
	measure "embedded store, ${f##*.} without event_id" "$EVENTS" -- "$PULSE" backfill "$f" --data "$WORK/bench.db" --rejects "$WORK/rejects.ndjson"
done

# engine_file FILE is the engine's own reading of the file: Parquet as
# the engine wrote it, CSV with the event contract's columns typed as
# the events table takes them.
engine_file() {
	case "$1" in
	*.parquet) echo "file('$1', Parquet)" ;;
	*.csv) echo "file('$1', CSVWithNames, 'event_id UUID, event String, user_id String, tenant_id String, session_id String, ts DateTime64(3, \\'UTC\\'), event_version UInt32, properties String, context String') SETTINGS date_time_input_format = 'best_effort'" ;;
	esac
}

# quiesce waits until the engine has no merge running, so that one load's
# background merges are not billed to the next.
quiesce() {
	local i
	for i in $(seq 120); do
		[[ "$(chq 'SELECT count() FROM system.merges')" == 0 ]] && return
		sleep 1
	done
	log "merges still running after 120 s; measuring anyway"
}
if [[ "${PULSE_BENCH_SKIP_CLICKHOUSE:-}" != 1 ]]; then
	# Rounds alternate pulse and the engine, each into a fresh database:
	# the engine's timings drift by 20% and more from one run to the next.
	ROUNDS="${PULSE_BENCH_ROUNDS:-3}"
	for round in $(seq "$ROUNDS"); do
		for db in bench_pulse_parquet bench_engine_parquet bench_pulse_csv bench_engine_csv; do
			chq "DROP DATABASE IF EXISTS $db SYNC" >/dev/null
			"$PULSE" schema apply --clickhouse "$DSN" --database "$db" --topic "$db" --consumer-group "$db" >/dev/null
		done
		for f in "$PARQUET" "$CSV"; do
			kind="${f##*.}"
			quiesce
			before="$(adapter_cpu)"
			measure "clickhouse round $round, pulse backfill $kind" "$EVENTS" -- \
				"$PULSE" backfill "$f" --clickhouse "$DSN" --database "bench_pulse_$kind" --state "$WORK/state" --no-resume --rejects "$WORK/rejects.ndjson"
			RESULTS+=("$(printf '%-50s engine (adapter) cpu %.1fs' "  + the engine's side" "$(awk "BEGIN { print $(adapter_cpu) - $before }")")")
			quiesce
			before="$(adapter_cpu)"
			measure "clickhouse round $round, engine INSERT..SELECT file() $kind" "$EVENTS" -- \
				curl -sS --fail-with-body --data-binary "INSERT INTO bench_engine_$kind.events (tenant_id, ts, event, user_id, session_id, event_id, event_version, properties, context) SELECT tenant_id, ts, event, user_id, session_id, event_id, event_version, JSONExtract(properties, 'Map(String, String)'), JSONExtract(context, 'Map(String, String)') FROM $(engine_file "$f")" "$DSN"
			RESULTS+=("$(printf '%-50s engine (adapter) cpu %.1fs (the line above is curl'"'"'s own CPU and RSS)' "  + the engine's side" "$(awk "BEGIN { print $(adapter_cpu) - $before }")")")
			log "rows stored ($kind): pulse $(chq "SELECT count() FROM bench_pulse_$kind.events FINAL"), engine $(chq "SELECT count() FROM bench_engine_$kind.events FINAL")"
		done
	done
fi

echo
echo "pulse backfill, $EVENTS generated events, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf '%s\n' "${RESULTS[@]}"
