#!/usr/bin/env bash
# make down: stops what `make up` started, and nothing else: each
# component's supervisor (which stops the component and what it started),
# then whatever is left that carries make up's mark (UP_RUN_DIR in its
# environment: a component whose supervisor was killed, a child left
# behind). Data stays in run/ for the next `make up`.
#
# Environment: RUN_DIR (run), as for make up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$(realpath -m "${RUN_DIR:-$ROOT/run}")

say() { printf 'down: %s\n' "$*" >&2; }

# alive PID: exists and is not a zombie.
alive() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

cmdline() { { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null; }

# marked PID: the process carries make up's mark for this RUN_DIR.
marked() {
	local -a env
	local e
	{ mapfile -d '' -t env <"/proc/$1/environ"; } 2>/dev/null || return 1
	for e in "${env[@]}"; do
		[[ $e == "UP_RUN_DIR=$RUN" ]] && return 0
	done
	return 1
}

# wait_gone SECONDS PID...: until none of them is alive.
wait_gone() {
	local n=$(($1 * 10)) p left
	shift
	for ((i = 0; i < n; i++)); do
		left=0
		for p in "$@"; do alive "$p" && left=1; done
		((left)) || return 0
		sleep 0.1
	done
	return 1
}

# legacy PID CMDLINE: a process a make up without supervisors started:
# its command, run from the repository (redis-server from its data
# directory), and not some other program that got a stale file's pid.
legacy() {
	local cwd
	cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) || return 1
	case $2 in
	"bin/telegraf --strict-env-handling --config telegraf/"* | "bin/coingecko-replay "*) [[ $cwd == "$ROOT" ]] ;;
	"redis-server 127.0.0.1:"*) [[ $cwd == "$RUN/redis" ]] ;;
	*) return 1 ;;
	esac
}

stop() {
	local name=$1 f=$RUN/pids/$1.pid pid cmd
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid"; then
		cmd=$(cmdline "$pid")
		if [[ $cmd == *"supervise.sh $name "* ]]; then
			# The supervisor gives its component 20 s after SIGTERM, and
			# what is left of the component's group 5 s more.
			kill -TERM "$pid" 2>/dev/null || true
			if ! wait_gone 40 "$pid"; then
				say "$name's supervisor (pid $pid) did not stop in 40 s: SIGKILL to it and its component"
				kill -KILL -- "-$pid" 2>/dev/null || true
				if [[ -f $RUN/pids/$name.child ]]; then
					kill -KILL -- "-$(<"$RUN/pids/$name.child")" 2>/dev/null || true
				fi
			fi
			say "stopped $name (supervisor pid $pid)"
		elif legacy "$pid" "$cmd"; then
			# Started by a make up without supervisors.
			kill -TERM "$pid" 2>/dev/null || true
			if ! wait_gone 15 "$pid"; then
				say "$name did not stop in 15 s: SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			fi
			say "stopped $name (pid $pid)"
		fi
	fi
	rm -f "$f"
}

# Producer first, so the consumer can write what it already read.
stop scraper
stop replay
stop consumer
stop kafka
# A Kafka started by a make up without supervisors.
if KAFKA_DIR=$RUN/kafka scripts/kafka.sh status >/dev/null 2>&1; then
	KAFKA_DIR=$RUN/kafka scripts/kafka.sh stop
fi
stop redis

# Whatever is left with make up's mark: SIGTERM, then SIGKILL after 15 s.
left=()
for d in /proc/[0-9]*; do
	p=${d#/proc/}
	((p != $$)) && alive "$p" && marked "$p" && left+=("$p")
done
if ((${#left[@]})); then
	for p in "${left[@]}"; do
		say "left over from make up: pid $p ($(cmdline "$p" | cut -c1-100)): SIGTERM"
		kill -TERM "$p" 2>/dev/null || true
	done
	if ! wait_gone 15 "${left[@]}"; then
		for p in "${left[@]}"; do
			alive "$p" && say "pid $p did not stop in 15 s: SIGKILL" && { kill -KILL "$p" 2>/dev/null || true; }
		done
	fi
fi
rm -f "$RUN"/pids/*.child
exit 0
