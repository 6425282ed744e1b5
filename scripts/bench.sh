#!/usr/bin/env bash
# Ingest benchmark: `pulse gen` drives a fresh `pulse ingest` on the
# embedded store on this machine, batched (100 events/request) and single
# events, and prints throughput, acknowledgement latency and the gateway's
# peak RSS. Usage: scripts/bench.sh [DURATION=60s]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly DURATION="${1:-60s}"
readonly PORT="${PULSE_BENCH_PORT:-18090}"
readonly WORK="$(mktemp -d /tmp/pulse-bench.XXXXXX)"
trap 'pkill -f "pulse ingest --data $WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT

go build -o "$WORK/pulse" .

# run_case NAME GEN-ARGS...: fresh store, one gateway, one driver run.
run_case() {
	local name="$1"; shift
	rm -f "$WORK/pulse.db" "$WORK/pulse.db.wal"
	"$WORK/pulse" ingest --data "$WORK/pulse.db" --listen "127.0.0.1:$PORT" \
		--ip-rate 0 --tenant-rate 0 2>"$WORK/$name.gateway.log" &
	local gw=$!
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
	echo "== $name: pulse gen --target http://127.0.0.1:$PORT $* --duration $DURATION"
	/usr/bin/env time -f "gen peak RSS %M KiB" "$WORK/pulse" gen --target "http://127.0.0.1:$PORT" --users 100000 --duration "$DURATION" "$@" 2>&1 | grep -vE '^time=' || true
	local hwm
	hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$gw/status")
	kill -TERM "$gw"; wait "$gw" || true
	echo "gateway peak RSS $hwm"
	echo
}

run_case batched --batch 100 --concurrency 32
run_case single --batch 1 --concurrency 256
