#!/usr/bin/env bash
# make down: stops what `make up` started (the pids it recorded in run/pids
# and its Kafka), and nothing else. Data stays in run/ for the next `make up`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$PWD/run

stop() {
	local name=$1 f=$RUN/pids/$1.pid pid
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			echo "down: $name did not stop in 15 s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		echo "down: stopped $name (pid $pid)" >&2
	fi
	rm -f "$f"
}

# Producer first, so the consumer can write what it already read.
stop scraper
stop replay
stop consumer
KAFKA_DIR=$RUN/kafka scripts/kafka.sh stop || true
stop redis
