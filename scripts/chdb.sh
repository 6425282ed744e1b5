#!/usr/bin/env bash
# Runs the ClickHouse engine in-process (chDB) behind a ClickHouse-compatible
# HTTP adapter (scripts/chdb_http.py) on 127.0.0.1, for tests: no ClickHouse
# server can run here.
#
#   scripts/chdb.sh install          create the venv and pip-install chdb-core
#                                    (once; quick when already there)
#   scripts/chdb.sh start [PORT]     start the adapter (default port 8123) with
#                                    a fresh, empty engine; wait until it
#                                    serves; print its DSN
#   scripts/chdb.sh stop [PORT]      stop it (its data is deleted)
#   scripts/chdb.sh status [PORT]    exit 0 if it runs, 1 if not
#
# Then: PULSE_TEST_CLICKHOUSE_DSN=http://127.0.0.1:8123/ go test ./chstore/ ./cmd/
#
# Every command is idempotent. What the adapter fakes (no auth, settings
# ignored, access-control DDL parsed but not run, Kafka tables registered but
# never consuming) is listed at the top of scripts/chdb_http.py.
#
# Environment:
#   PULSE_CHDB_VERSION          chdb-core version (default 26.9.0: ClickHouse 26.9)
#   PULSE_CACHE                 cache root (default ~/.cache/pulse); the venv is
#                               $PULSE_CACHE/chdb-<version>/venv
#   PULSE_CHDB_RUN_DIR          pid file and log (default /tmp/pulse-chdb-<port>)
#   PULSE_CHDB_START_TIMEOUT    seconds to wait for the adapter (default 60)
#   PYTHON                      Python 3.9+ that makes the venv (default python3)
set -euo pipefail

# chdb-core is the engine (the `chdb` module, a ~180 MB wheel); the PyPI
# package `chdb` is a pandas-style layer on top of it that the adapter does
# not need.
readonly CHDB_VERSION="${PULSE_CHDB_VERSION:-26.9.0}"
readonly CACHE_ROOT="${PULSE_CACHE:-$HOME/.cache/pulse}"
readonly VENV="$CACHE_ROOT/chdb-$CHDB_VERSION/venv"
ADAPTER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/chdb_http.py"
readonly ADAPTER
readonly DEFAULT_PORT=8123

readonly NAME=chdb.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# installed succeeds when the venv holds the pinned chdb-core. It reads the
# package metadata instead of importing chdb, which takes a second.
installed() {
	[[ -x "$VENV/bin/python" ]] &&
		[[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("chdb-core"))' 2>/dev/null)" == "$CHDB_VERSION" ]]
}

cmd_install() {
	if installed; then
		log "chdb-core $CHDB_VERSION already installed in $VENV"
		return
	fi
	local python="${PYTHON:-python3}"
	command -v "$python" >/dev/null || die "no $python found (apt-get install python3 python3-venv)"
	log "installing chdb-core $CHDB_VERSION into $VENV (a ~180 MB wheel)"
	rm -rf "$VENV"
	mkdir -p "$(dirname "$VENV")"
	"$python" -m venv "$VENV" || die "could not create a venv with $python (apt-get install python3-venv)"
	# --no-deps: chdb-core declares pandas and pyarrow, but the engine and the
	# adapter (text and Native formats, send_insert) never import them;
	# skipping them takes the install from ~55 s and 890 MB to ~11 s and
	# 560 MB. The smoke query below proves the pinned version runs without.
	if ! "$VENV/bin/pip" install --disable-pip-version-check -q --no-deps "chdb-core==$CHDB_VERSION" >"$VENV/../install.log" 2>&1; then
		tail -n 20 "$VENV/../install.log" >&2
		rm -rf "$VENV"
		die "pip could not install chdb-core==$CHDB_VERSION (is PyPI reachable? log above)"
	fi
	if ! "$VENV/bin/python" -c 'from chdb import session; assert session.Session(":memory:").query("SELECT 1", "TSV").bytes().strip() == b"1"' >>"$VENV/../install.log" 2>&1; then
		tail -n 20 "$VENV/../install.log" >&2
		rm -rf "$VENV"
		die "chdb-core $CHDB_VERSION installed but cannot run a query (log above)"
	fi
	installed || die "chdb-core $CHDB_VERSION missing after install"
	log "installed chdb-core $CHDB_VERSION ($(du -sh "$VENV" | cut -f1))"
}

run_dir() { echo "${PULSE_CHDB_RUN_DIR:-/tmp/pulse-chdb-$1}"; }

# running_pid prints the pid of the adapter started for port $1, if it runs.
running_pid() {
	pid_from "$(run_dir "$1")/chdb_http.pid" "chdb_http.py --host 127.0.0.1 --port $1 "
}

cmd_start() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port"
	local dir pid
	dir="$(run_dir "$port")"
	if pid="$(running_pid "$port")"; then
		log "adapter already running on 127.0.0.1:$port (pid $pid, log $dir/chdb_http.log)"
		echo "http://127.0.0.1:$port/"
		return
	fi
	cmd_install
	listening "$port" && die "port $port on 127.0.0.1 is taken by another process (pick another: scripts/chdb.sh start PORT)"
	rm -rf "$dir"
	mkdir -p "$dir"
	log "starting the chDB adapter on 127.0.0.1:$port (run dir $dir)"
	# setsid: the adapter outlives this script and the shell that ran it.
	setsid nohup "$VENV/bin/python" "$ADAPTER" --host 127.0.0.1 --port "$port" --data "$dir/data" --quiet \
		>"$dir/chdb_http.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/chdb_http.pid"

	local timeout="${PULSE_CHDB_START_TIMEOUT:-60}" start=$SECONDS
	until listening "$port" && grep -q "^listening on" "$dir/chdb_http.log" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$dir/chdb_http.log" >&2 || true
			die "the adapter exited during startup (log above, $dir/chdb_http.log)"
		fi
		if ((SECONDS - start >= timeout)); then
			tail -n 30 "$dir/chdb_http.log" >&2 || true
			kill "$pid" 2>/dev/null || true
			die "the adapter did not start within ${timeout}s (log above; raise PULSE_CHDB_START_TIMEOUT?)"
		fi
		sleep 0.1
	done
	log "$(head -n1 "$dir/chdb_http.log") in $((SECONDS - start))s (pid $pid)"
	log "export PULSE_TEST_CLICKHOUSE_DSN=http://127.0.0.1:$port/"
	echo "http://127.0.0.1:$port/"
}

cmd_stop() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port"
	local pid dir
	dir="$(run_dir "$port")"
	if ! pid="$(running_pid "$port")"; then
		log "the adapter is not running on port $port"
		rm -f "$dir/chdb_http.pid"
		return
	fi
	stop_pid "the adapter" "$pid" 10
	rm -rf "$dir/chdb_http.pid" "$dir/data"
	log "adapter on port $port stopped (log kept in $dir/chdb_http.log)"
}

cmd_status() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port"
	local pid
	if pid="$(running_pid "$port")" && listening "$port"; then
		echo "chDB adapter (chdb-core $CHDB_VERSION) running on 127.0.0.1:$port (pid $pid, run dir $(run_dir "$port"))"
		return 0
	fi
	echo "chDB adapter not running on port $port"
	return 1
}

main() {
	(($# >= 1)) || usage
	local cmd="$1"
	shift
	case "$cmd" in
	install) (($# == 0)) || usage; cmd_install ;;
	start | stop | status) (($# <= 1)) || usage; "cmd_$cmd" "$@" ;;
	-h | --help | help) usage ;;
	*) log "unknown command '$cmd'"; usage ;;
	esac
}

main "$@"
