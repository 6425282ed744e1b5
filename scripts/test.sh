#!/usr/bin/env bash
# Runs every test of pulse against real engines: installs (pinned, cached)
# and starts Apache Kafka and the chDB ClickHouse adapter on 127.0.0.1,
# runs `go test ./...` with them, and stops them whatever happens.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly KAFKA_PORT="${PULSE_TEST_KAFKA_PORT:-19092}"

log() { echo "test.sh: $*" >&2; }

readonly CHDB_PORT="${PULSE_TEST_CHDB_PORT:-18123}"

cleanup() {
	scripts/kafka.sh stop "$KAFKA_PORT" >/dev/null 2>&1 || true
	scripts/chdb.sh stop "$CHDB_PORT" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "installing test engines (cached after the first run)"
scripts/kafka.sh install
scripts/chdb.sh install
# pulse top's smoke test drives the real binary in tmux (Debian's package);
# run from here it must not skip for want of it.
if ! command -v tmux >/dev/null; then
	log "installing tmux"
	sudo=""
	[[ "$(id -u)" == 0 ]] || sudo="sudo"
	$sudo apt-get install -y -qq tmux >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq tmux >/dev/null; } ||
		{ log "tmux is needed for pulse top's terminal test (apt-get install tmux)"; exit 1; }
fi
export PULSE_TEST_TMUX=required
scripts/kafka.sh start "$KAFKA_PORT" >/dev/null
export PULSE_TEST_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
PULSE_TEST_CLICKHOUSE_DSN="$(scripts/chdb.sh start "$CHDB_PORT")"
export PULSE_TEST_CLICKHOUSE_DSN

log "go test ./... (Kafka at $PULSE_TEST_KAFKA_BROKERS, ClickHouse engine at $PULSE_TEST_CLICKHOUSE_DSN)"
if ! go test -count=1 -timeout 25m ./... 2>&1 | tee /tmp/pulse-go-test.log; then
	log "go test failed (full log: /tmp/pulse-go-test.log)"
	exit 1
fi
log "all packages passed"
