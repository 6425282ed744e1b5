#!/usr/bin/env bash
# Runs a real, single-node Apache Kafka (KRaft, combined broker and
# controller) on 127.0.0.1 for tests, from the jars on Maven Central.
#
#   scripts/kafka.sh install          resolve the jars into the cache (once)
#   scripts/kafka.sh start [PORT]     start a fresh broker (default port 9092),
#                                     wait until it serves, print host:port
#   scripts/kafka.sh stop [PORT]      stop it
#   scripts/kafka.sh restart [PORT]   stop it and start it again on the same
#                                     storage: topics, records and committed
#                                     offsets survive (for crash tests)
#   scripts/kafka.sh status [PORT]    exit 0 if it runs, 1 if not
#
# Then: PULSE_TEST_KAFKA_BROKERS=127.0.0.1:9092 go test ./ingest/
#
# Every command is idempotent. Each start formats empty storage: nothing
# survives a stop and start; only restart keeps it. Topics are not
# auto-created; clients create theirs.
#
# Environment:
#   PULSE_KAFKA_VERSION          Kafka release (default 4.1.2; needs Java 17+)
#   PULSE_CACHE                  cache root (default ~/.cache/pulse); the jars
#                                go to $PULSE_CACHE/kafka-<version>/libs
#   PULSE_KAFKA_RUN_DIR          config, data and logs (default /tmp/pulse-kafka-<port>)
#   PULSE_KAFKA_CONTROLLER_PORT  KRaft controller port (default PORT+1)
#   PULSE_KAFKA_START_TIMEOUT    seconds to wait for the broker (default 90)
#   PULSE_KAFKA_HEAP             JVM -Xmx (default 512m)
#   JAVA_HOME                    Java to run (default: java on PATH)
set -euo pipefail

readonly KAFKA_VERSION="${PULSE_KAFKA_VERSION:-4.1.2}"
readonly CACHE_ROOT="${PULSE_CACHE:-$HOME/.cache/pulse}"
readonly KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
readonly LIBS="$KAFKA_HOME/libs"
POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka/pom.xml"
readonly POM
readonly DEFAULT_PORT=9092

readonly NAME=kafka.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

java_bin() {
	if [[ -n "${JAVA_HOME:-}" ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# check_java fails unless the Java to run is 17 or newer (Kafka 4 brokers).
check_java() {
	local java version major
	java="$(java_bin)"
	command -v "$java" >/dev/null || die "no java found (install a JDK 17+, e.g. apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
	version="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
	major="${version%%.*}"
	[[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs Java 17 or newer, $java is ${version:-unknown} (set JAVA_HOME)"
}

cmd_install() {
	if [[ -f "$LIBS/.complete" ]]; then
		log "kafka $KAFKA_VERSION already installed in $LIBS"
		return
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
	[[ -f "$POM" ]] || die "missing $POM"
	log "resolving kafka_2.13 $KAFKA_VERSION and its dependencies from Maven Central into $LIBS"
	local tmp="$LIBS.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$KAFKA_HOME"
	if ! mvn -B -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME/install.log" 2>&1; then
		grep -E 'ERROR|BUILD' "$KAFKA_HOME/install.log" | tail -n 20 >&2
		rm -rf "$tmp"
		die "maven could not resolve kafka $KAFKA_VERSION (is Maven Central reachable? is the version served? log: $KAFKA_HOME/install.log)"
	fi
	[[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after resolution"; }
	touch "$tmp/.complete"
	rm -rf "$LIBS"
	mv "$tmp" "$LIBS"
	log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1))"
}

run_dir() { echo "${PULSE_KAFKA_RUN_DIR:-/tmp/pulse-kafka-$1}"; }

# running_pid prints the pid of the broker started for port $1, if it runs.
running_pid() {
	local dir
	dir="$(run_dir "$1")"
	pid_from "$dir/kafka.pid" "kafka.Kafka $dir/server.properties"
}

write_config() {
	local dir="$1" port="$2" cport="$3"
	cat >"$dir/server.properties" <<-EOF
		# Written by scripts/kafka.sh: a single-node test broker on loopback.
		process.roles=broker,controller
		node.id=1
		controller.quorum.bootstrap.servers=127.0.0.1:$cport
		listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
		advertised.listeners=PLAINTEXT://127.0.0.1:$port
		controller.listener.names=CONTROLLER
		inter.broker.listener.name=PLAINTEXT
		listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
		log.dirs=$dir/data
		num.partitions=3
		default.replication.factor=1
		min.insync.replicas=1
		offsets.topic.replication.factor=1
		transaction.state.log.replication.factor=1
		transaction.state.log.min.isr=1
		share.coordinator.state.topic.replication.factor=1
		share.coordinator.state.topic.min.isr=1
		group.initial.rebalance.delay.ms=0
		# The gateway creates its topic; a typo must fail, not make a topic.
		auto.create.topics.enable=false
		log.retention.hours=24
	EOF
	cat >"$dir/log4j2.properties" <<-EOF
		status = warn
		appender.file.type = File
		appender.file.name = file
		appender.file.fileName = $dir/logs/server.log
		appender.file.layout.type = PatternLayout
		appender.file.layout.pattern = [%d] %p %m (%c)%n
		rootLogger.level = info
		rootLogger.appenderRef.file.ref = file
		logger.state.name = state.change.logger
		logger.state.level = warn
		logger.request.name = kafka.request.logger
		logger.request.level = warn
	EOF
}

# random_cluster_id prints a KRaft cluster id: 16 random bytes, base64url,
# not starting with '-' (the storage tool would read it as an option).
random_cluster_id() {
	local id=""
	until [[ -n "$id" && "$id" != -* ]]; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
	done
	echo "$id"
}

cmd_start() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port" 65534
	local cport="${PULSE_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
	check_port "$cport" 65534
	local dir pid
	dir="$(run_dir "$port")"
	if pid="$(running_pid "$port")"; then
		log "kafka already running on 127.0.0.1:$port (pid $pid, logs in $dir/logs)"
		echo "127.0.0.1:$port"
		return
	fi
	check_java
	cmd_install
	for p in "$port" "$cport"; do
		listening "$p" && die "port $p on 127.0.0.1 is taken by another process (pick another: scripts/kafka.sh start PORT)"
	done

	rm -rf "$dir"
	mkdir -p "$dir/logs" "$dir/data"
	write_config "$dir" "$port" "$cport"
	local java cp=("-cp" "$LIBS/*")
	java="$(java_bin)"
	local log4j="-Dlog4j2.configurationFile=$dir/log4j2.properties"
	if ! "$java" -XX:TieredStopAtLevel=1 "${cp[@]}" kafka.tools.StorageTool format --standalone \
		--cluster-id "$(random_cluster_id)" --config "$dir/server.properties" >"$dir/logs/format.log" 2>&1; then
		tail -n 20 "$dir/logs/format.log" >&2
		die "formatting storage in $dir/data failed (log above)"
	fi
	launch "$port" "$cport"
}

# launch starts the broker configured in the run dir of port $1 (controller
# port $2) and waits until it serves.
launch() {
	local port="$1" cport="$2"
	local dir pid java cp=("-cp" "$LIBS/*")
	dir="$(run_dir "$port")"
	java="$(java_bin)"
	local log4j="-Dlog4j2.configurationFile=$dir/log4j2.properties"
	log "starting kafka $KAFKA_VERSION on 127.0.0.1:$port (controller :$cport, run dir $dir)"
	# setsid: the broker outlives this script and the shell that ran it.
	setsid nohup "$java" -Xms128m -Xmx"${PULSE_KAFKA_HEAP:-512m}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true "$log4j" -Dkafka.logs.dir="$dir/logs" \
		"${cp[@]}" kafka.Kafka "$dir/server.properties" >"$dir/logs/kafka.out" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/kafka.pid"

	local timeout="${PULSE_KAFKA_START_TIMEOUT:-90}" start=$SECONDS
	until listening "$port" && grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$dir/logs/server.log" "$dir/logs/kafka.out" >&2 2>/dev/null || true
			die "kafka exited during startup (logs above, in $dir/logs)"
		fi
		if ((SECONDS - start >= timeout)); then
			tail -n 30 "$dir/logs/server.log" "$dir/logs/kafka.out" >&2 2>/dev/null || true
			kill "$pid" 2>/dev/null || true
			die "kafka did not start within ${timeout}s (logs above, in $dir/logs; raise PULSE_KAFKA_START_TIMEOUT?)"
		fi
		sleep 0.2
	done
	log "kafka ready on 127.0.0.1:$port in $((SECONDS - start))s (pid $pid); export PULSE_TEST_KAFKA_BROKERS=127.0.0.1:$port"
	echo "127.0.0.1:$port"
}

cmd_stop() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port" 65534
	local pid dir
	dir="$(run_dir "$port")"
	if ! pid="$(running_pid "$port")"; then
		log "kafka is not running on port $port"
		rm -f "$dir/kafka.pid"
		return
	fi
	stop_pid kafka "$pid" 30
	rm -f "$dir/kafka.pid"
	log "kafka on port $port stopped (logs kept in $dir/logs)"
}

cmd_restart() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port" 65534
	local dir cport
	dir="$(run_dir "$port")"
	[[ -f "$dir/server.properties" && -f "$dir/data/meta.properties" ]] ||
		die "no formatted broker storage in $dir to restart (start one with: scripts/kafka.sh start $port)"
	cport="$(sed -n 's/^controller\.quorum\.bootstrap\.servers=127\.0\.0\.1://p' "$dir/server.properties")"
	check_port "$cport" 65534
	cmd_stop "$port"
	check_java
	for p in "$port" "$cport"; do
		listening "$p" && die "port $p on 127.0.0.1 is taken by another process"
	done
	# The readiness check looks for the start line in server.log: begin a
	# fresh one, keeping the previous run's next to it.
	if [[ -f "$dir/logs/server.log" ]]; then
		mv -f "$dir/logs/server.log" "$dir/logs/server.log.previous"
	fi
	launch "$port" "$cport"
}

cmd_status() {
	local port="${1:-$DEFAULT_PORT}"
	check_port "$port" 65534
	local pid
	if pid="$(running_pid "$port")" && listening "$port"; then
		echo "kafka $KAFKA_VERSION running on 127.0.0.1:$port (pid $pid, run dir $(run_dir "$port"))"
		return 0
	fi
	echo "kafka not running on port $port"
	return 1
}

main() {
	(($# >= 1)) || usage
	local cmd="$1"
	shift
	case "$cmd" in
	install) (($# == 0)) || usage; check_java; cmd_install ;;
	start | stop | restart | status) (($# <= 1)) || usage; "cmd_$cmd" "$@" ;;
	-h | --help | help) usage ;;
	*) log "unknown command '$cmd'"; usage ;;
	esac
}

main "$@"
