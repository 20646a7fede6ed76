#!/usr/bin/env bash
# kafka.sh: a real single-node Apache Kafka (KRaft, broker and controller in one
# JVM) on 127.0.0.1, run from the jars Maven Central serves, without Docker.
#
#   scripts/kafka.sh fetch                    copy the jars to .cache/kafka-libs/<version>/ (once)
#   scripts/kafka.sh start                    format the storage (first time) and start the broker
#   scripts/kafka.sh run                      the same in the foreground (for a supervisor)
#   scripts/kafka.sh wait                     wait until the broker `run` started serves (remove
#                                             KAFKA_DIR/log-from before the run)
#   scripts/kafka.sh stop                     SIGTERM, up to 20 s, then SIGKILL; only our recorded pid
#   scripts/kafka.sh status                   exit 0 when running, 3 when not
#   scripts/kafka.sh topic-create NAME PARTS  create a topic (no error if it exists)
#
# Environment: KAFKA_DIR (data, logs, pid; default run/kafka in the repo),
# KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_PARTITIONS (1, for
# auto-created topics), KAFKA_HEAP_OPTS, KAFKA_START_TIMEOUT (60 s),
# KAFKA_LIBS (jar directory), KAFKA_STOP_WITH_PID (stop the broker when that
# process exits: tests pass their own pid so a killed test leaves no broker).
# The Kafka version is scripts/kafka/VERSION, shared with compose/compose_test.go.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KAFKA_VERSION=$(tr -d '[:space:]' <"$ROOT/scripts/kafka/VERSION")
KAFKA_LIBS=${KAFKA_LIBS:-$ROOT/.cache/kafka-libs/$KAFKA_VERSION}
KAFKA_DIR=${KAFKA_DIR:-$ROOT/run/kafka}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_PARTITIONS=${KAFKA_PARTITIONS:-1}
# Small heap and the serial collector: a test broker on a 2-core machine holds
# a few MB of messages, and G1's extra threads only compete with the tests.
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m -XX:+UseSerialGC}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}

# Absolute paths: the pid check below matches them in the JVM's command line.
KAFKA_DIR=$(realpath -m "$KAFKA_DIR")
PID_FILE=$KAFKA_DIR/kafka.pid
PROPS=$KAFKA_DIR/server.properties
LOG=$KAFKA_DIR/server.log
OUT=$KAFKA_DIR/kafka.out

log() { echo "kafka.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

java_bin() {
	if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
		echo "$JAVA_HOME/bin/java"
	elif command -v java >/dev/null; then
		command -v java
	else
		die "java not found (need Java 17+: apt-get install openjdk-17-jre-headless)"
	fi
}

# alive PID: the process exists and is not a zombie (the broker is reparented
# when this script exits, and a zombie still answers kill -0).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# our_pid: the recorded pid, if it is alive and is the broker of this
# KAFKA_DIR (guards against a stale file whose pid was reused).
our_pid() {
	local pid cmdline
	[[ -f $PID_FILE ]] || return 1
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	alive "$pid" || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"kafka.Kafka $PROPS "* ]] || return 1
	echo "$pid"
}

log_tail() {
	local f
	for f in "$LOG" "$OUT"; do
		if [[ -s $f ]]; then
			log "last lines of $f:"
			tail -n 20 "$f" >&2
		fi
	done
}

# first_error: the first ERROR or FATAL line this run wrote to server.log
# (offset $1), which usually names the cause (a port in use, a bad setting).
first_error() {
	local line
	line=$(tail -c +$(($1 + 1)) "$LOG" 2>/dev/null | grep -m1 -E '^\[[^]]*\] (ERROR|FATAL) ') || true
	echo "${line:-no ERROR line in the server log}"
}

cmd_fetch() {
	if [[ -f $KAFKA_LIBS/.complete ]]; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found: needed once to fetch Kafka $KAFKA_VERSION jars (apt-get install maven)"
	mkdir -p "$(dirname "$KAFKA_LIBS")"
	# Several test packages may fetch at once: one does the work, the others wait.
	exec 9>"$KAFKA_LIBS.lock"
	flock 9
	if [[ ! -f $KAFKA_LIBS/.complete ]]; then
		local tmp start=$SECONDS
		tmp=$(mktemp -d "$KAFKA_LIBS.tmp.XXXXXX")
		log "fetching Kafka $KAFKA_VERSION jars with Maven into $KAFKA_LIBS"
		# Quiet Maven still prints colour resets: keep its output for failures only.
		if ! mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
			dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
			</dev/null >"$tmp.log" 2>&1; then
			tail -n 40 "$tmp.log" >&2
			rm -rf "$tmp" "$tmp.log"
			die "mvn dependency:copy-dependencies failed for org.apache.kafka:kafka_2.13:$KAFKA_VERSION (output above)"
		fi
		rm -f "$tmp.log"
		touch "$tmp/.complete"
		rm -rf "$KAFKA_LIBS"
		mv "$tmp" "$KAFKA_LIBS"
		log "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - start)) s"
	fi
	exec 9>&-
}

write_config() {
	cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh: one combined broker+controller, loopback only.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
log.dirs=$KAFKA_DIR/data
num.partitions=$KAFKA_PARTITIONS
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
# Single node: internal topics cannot have more replicas than brokers, and one
# partition each is enough (and creates __consumer_offsets much faster than 50).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Consumer groups start at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the controller holds the dead broker's registration
# until its session expires, and the restarted broker waits for that: 9 s by
# default. Broker and controller share this JVM, so a short session is safe.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2500
num.network.threads=2
num.io.threads=2
EOF
	cat >"$KAFKA_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOG
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
	# The command-line tools log to stderr, warnings only.
	cat >"$KAFKA_DIR/tools-log4j2.properties" <<EOF
status = warn
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = err
EOF
}

# A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, as
# kafka-storage random-uuid prints (which costs a JVM start); Kafka rejects ids
# starting with '-'.
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		[[ $id == -* ]] || break
	done
	echo "$id"
}

# prepare: what a start needs (jars, config, formatted storage); sets java
# and log_from, the size of server.log before this run (server.log keeps
# every run, and a test that restarts the broker wants the whole story:
# readiness looks for this run's start message only).
prepare() {
	local pid
	if pid=$(our_pid); then
		die "a Kafka from $KAFKA_DIR is already running (pid $pid); run: $0 stop"
	fi
	rm -f "$PID_FILE"
	cmd_fetch
	java=$(java_bin)
	mkdir -p "$KAFKA_DIR"
	write_config
	: >"$OUT"

	# Format once; a restart keeps the data (and so the committed offsets).
	if [[ ! -f $KAFKA_DIR/data/meta.properties ]]; then
		if ! "$java" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$KAFKA_DIR/tools-log4j2.properties" \
			-cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --standalone \
			--cluster-id "$(cluster_id)" --config "$PROPS" >>"$OUT" 2>&1; then
			log_tail
			die "formatting the storage in $KAFKA_DIR/data failed"
		fi
	fi
	log_from=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
	echo "$log_from" >"$KAFKA_DIR/log-from"
}

# launch: replace this process with the broker (java).
launch() {
	# shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several JVM options
	exec "$java" $KAFKA_HEAP_OPTS -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
		-cp "$KAFKA_LIBS/*" kafka.Kafka "$PROPS" </dev/null >>"$OUT" 2>&1
}

# wait_ready PID LOG_FROM: ready when the server logged that it started
# (after that, the broker is unfenced and serves requests) and its port
# takes connections. Without a PID, whichever broker of KAFKA_DIR runs.
wait_ready() {
	local pid=$1 log_from=$2 start=$SECONDS p
	while ((SECONDS - start < KAFKA_START_TIMEOUT)); do
		if [[ -n $pid ]] && ! alive "$pid"; then
			log_tail
			die "Kafka exited during start-up: $(first_error "$log_from") (log: $LOG)"
		fi
		# (Not a pipe: with pipefail, grep -q quitting early fails tail with SIGPIPE.)
		if p=$(our_pid) && grep -q "Kafka Server started" < <(tail -c +$((log_from + 1)) "$LOG" 2>/dev/null) &&
			(exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then
			log "Kafka $KAFKA_VERSION up on 127.0.0.1:$KAFKA_PORT (pid $p, $((SECONDS - start)) s, log $LOG)"
			return 0
		fi
		sleep 0.2
	done
	log_tail
	[[ -n $pid ]] && stop_pid "$pid"
	die "Kafka did not start within $KAFKA_START_TIMEOUT s: $(first_error "$log_from") (log: $LOG)"
}

cmd_start() {
	local pid java log_from
	prepare
	launch &
	pid=$!
	echo "$pid" >"$PID_FILE"

	if [[ -n ${KAFKA_STOP_WITH_PID:-} ]]; then
		watchdog "$KAFKA_STOP_WITH_PID" "$pid" </dev/null >/dev/null 2>&1 &
	fi
	wait_ready "$pid" "$log_from"
}

# cmd_run: the broker in the foreground (this process becomes the JVM), for
# a supervisor (scripts/supervise.sh under make up); `wait` tells when it
# serves.
cmd_run() {
	local java log_from
	prepare
	echo "$$" >"$PID_FILE"
	launch
}

# cmd_wait: the run writes log-from before it starts the JVM; whoever
# starts it removes the file first, so that a previous run's start message
# is not taken for this one's.
cmd_wait() {
	local start=$SECONDS
	until [[ -s $KAFKA_DIR/log-from ]]; do
		((SECONDS - start < KAFKA_START_TIMEOUT)) || die "no Kafka run started from $KAFKA_DIR within $KAFKA_START_TIMEOUT s"
		sleep 0.2
	done
	wait_ready "" "$(cat "$KAFKA_DIR/log-from")"
}

# watchdog OWNER BROKER: stop the broker when the owning process is gone.
watchdog() {
	while alive "$1" && alive "$2"; do
		sleep 1
	done
	if alive "$2"; then
		stop_pid "$2"
		rm -f "$PID_FILE"
	fi
}

stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 0
		sleep 0.2
	done
	log "Kafka (pid $pid) still running 20 s after SIGTERM: sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	die "Kafka (pid $pid) survived SIGKILL"
}

cmd_stop() {
	local pid
	if ! pid=$(our_pid); then
		rm -f "$PID_FILE"
		log "no Kafka running from $KAFKA_DIR"
		return 0
	fi
	stop_pid "$pid"
	rm -f "$PID_FILE"
	log "stopped Kafka (pid $pid)"
}

cmd_status() {
	local pid
	if pid=$(our_pid); then
		echo "running: pid $pid, 127.0.0.1:$KAFKA_PORT, log $LOG"
	else
		echo "not running ($KAFKA_DIR)"
		return 3
	fi
}

cmd_topic_create() {
	[[ $# -eq 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "usage: $0 topic-create NAME PARTITIONS"
	our_pid >/dev/null || die "no Kafka running from $KAFKA_DIR; run: $0 start"
	"$(java_bin)" -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$KAFKA_DIR/tools-log4j2.properties" \
		-cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
		--bootstrap-server "127.0.0.1:$KAFKA_PORT" --create --if-not-exists \
		--topic "$1" --partitions "$2" --replication-factor 1
}

case ${1:-} in
fetch) cmd_fetch ;;
start) cmd_start ;;
run) cmd_run ;;
wait) cmd_wait ;;
stop) cmd_stop ;;
status) cmd_status ;;
topic-create)
	shift
	cmd_topic_create "$@"
	;;
*) die "usage: $0 fetch|start|run|wait|stop|status|topic-create NAME PARTITIONS" ;;
esac
