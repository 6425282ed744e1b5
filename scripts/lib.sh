# shellcheck shell=bash
# Helpers shared by scripts/kafka.sh and scripts/chdb.sh, which source it
# after setting NAME (the script's name in messages).

log() { echo "$NAME: $*" >&2; }
die() { log "error: $*"; exit 1; }

# usage prints the calling script's header comment.
usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
}

# check_port PORT [MAX] dies unless PORT is a number from 1 to MAX (65535).
check_port() {
	local max="${2:-65535}"
	[[ "$1" =~ ^[0-9]+$ && "$1" -ge 1 && "$1" -le "$max" ]] || die "invalid port '$1' (want 1-$max)"
}

# listening succeeds when something accepts TCP connections on 127.0.0.1:$1.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pid_from PIDFILE CMDLINE prints the pid in PIDFILE if that process still
# runs with CMDLINE in its command line (not a recycled pid).
pid_from() {
	local pid
	[[ -f "$1" ]] || return 1
	pid="$(<"$1")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
	echo "$pid"
}

# stop_pid WHAT PID SECONDS sends SIGTERM, waits up to SECONDS for the
# process to exit, then kills it.
stop_pid() {
	local what="$1" pid="$2" seconds="$3" i
	kill -TERM "$pid"
	for ((i = 0; i < seconds * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "$what (pid $pid) did not stop within ${seconds}s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}
