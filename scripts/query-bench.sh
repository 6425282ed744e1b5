#!/usr/bin/env bash
# Query benchmark: every `pulse query` metric against an embedded store of
# 10 million generated events (pulse gen --users 100000 --tenants 20, 177
# days from 2026-04-07, capped at 10M events on 2026-09-27), for the
# largest tenant (acme): active over the 90 days ending 2026-09-27, the
# other metrics over the 30 days ending then. Prints, per command, the
# median wall time of RUNS runs (the whole process: start, open, query,
# output) and the largest peak RSS.
#
#   scripts/query-bench.sh [RUNS=5]
#
# The store is built once, through the gateway (pulse ingest + pulse gen
# --target), and kept in $PULSE_BENCH_DIR (default /tmp/pulse-query-bench)
# for later runs; delete the directory to rebuild it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly RUNS="${1:-5}"
readonly DIR="${PULSE_BENCH_DIR:-/tmp/pulse-query-bench}"
readonly PORT="${PULSE_BENCH_PORT:-18095}"
readonly DB="$DIR/pulse.db"
readonly END=2026-09-27 # last day of the data (the 10M cap ends it at 15:21)
mkdir -p "$DIR"
go build -o "$DIR/pulse" .
readonly PULSE="$DIR/pulse"

if [[ ! -f "$DB" ]]; then
	echo "== building $DB: 10M events through the gateway"
	"$PULSE" ingest --data "$DB" --listen "127.0.0.1:$PORT" --ip-rate 0 --tenant-rate 0 2>"$DIR/ingest.log" &
	gw=$!
	trap 'kill -TERM $gw 2>/dev/null || true' EXIT
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
	start=$(date +%s)
	"$PULSE" gen --target "http://127.0.0.1:$PORT" --users 100000 --tenants 20 --seed 1 \
		--end 2026-10-01 --days 177 --max-events 10000000 --batch 1000 --concurrency 4 2>&1 | grep -vE '^time=' || true
	kill -TERM "$gw"
	wait "$gw" || true
	trap - EXIT
	echo "loaded in $(($(date +%s) - start))s; gateway log in $DIR/ingest.log"
fi
ls -l "$DB"
"$PULSE" query sql --data "$DB" --format table \
	"SELECT count(*) AS events, count(DISTINCT tenant_id || '/' || user_id) AS users, count(DISTINCT tenant_id) AS tenants,
	        min(ts) AS first_ts, max(ts) AS last_ts, count(*) FILTER (WHERE tenant_id = 'acme') AS acme_events FROM events"

from90=$(date -u -d "$END -89 days" +%F)
from30=$(date -u -d "$END -29 days" +%F)
q90=(--data "$DB" --tenant acme --from "$from90" --to "$END")
q30=(--data "$DB" --tenant acme --from "$from30" --to "$END")

# bench NAME ARGS...: run `pulse query ARGS...` RUNS times; median wall
# time, max peak RSS.
bench() {
	local name="$1"; shift
	local times=() rss=0 t m
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e %M' -o "$DIR/time.out" "$PULSE" query "$@" >/dev/null 2>"$DIR/query.err" ||
			{ echo "pulse query $* failed:"; cat "$DIR/query.err"; return 1; }
		read -r t m <"$DIR/time.out"
		times+=("$t")
		if ((m > rss)); then rss=$m; fi
	done
	median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	printf '%-22s %6.0f ms  %6d MiB  pulse query %s\n' "$name" "$(echo "$median * 1000" | bc)" $((rss / 1024)) "$*"
}

echo "== $RUNS runs each; median wall time, peak RSS"
bench active-90d active "${q90[@]}"
bench active-event-90d active "${q90[@]}" --event report_exported
bench events-day events "${q30[@]}"
bench events-hour-by-plan events "${q30[@]}" --interval hour --by properties.plan
bench funnel funnel "${q30[@]}" --steps signup,onboarding_started,project_created,teammate_invited,activated --window 7d
bench funnel-busy-steps funnel "${q30[@]}" --steps session_started,page_viewed,api_request --window 1d
bench retention-week retention "${q30[@]}" --start-event signup --return-event session_started --period week --periods 4
bench retention-day retention "${q30[@]}" --start-event signup --return-event session_started --period day --periods 14
bench adoption-week adoption "${q30[@]}" --feature report_exported --period week
bench latency-hour latency "${q30[@]}" --event api_request --interval hour
bench errors-hour errors "${q30[@]}" --event api_request --where 'properties.status>=500' --interval hour
bench sql-count sql --data "$DB" "SELECT count(*) FROM events WHERE tenant_id = 'acme'"
