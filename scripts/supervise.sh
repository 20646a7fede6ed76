#!/usr/bin/env bash
# supervise.sh NAME CHILD_PID_FILE CMD [ARG...]: run CMD, and run it again
# whenever it exits, as compose's restart policy does, until told to stop.
#
# `make up` starts one per component (scripts/up.sh), in a session of its
# own, so that `make down` can stop the supervisor, the component and
# anything the component started (its process group) and nothing else.
#
# - Each restart is one line on stderr: what exited, how, after how long,
#   and when it starts again.
# - A run shorter than SUPERVISE_FAST seconds (10) is a fast failure; the
#   delay before a restart starts at SUPERVISE_DELAY seconds (1) and
#   doubles with each fast failure in a row (at most 30 s). After
#   SUPERVISE_MAX_FAST (6) fast failures in a row the supervisor gives up
#   with one line saying so, and exits 1: a component that cannot start
#   (a port in use, a broken config) is not restarted for ever.
# - Each run has a process group of its own; when the component exits,
#   what is left of its group (say, a child it started) is stopped too,
#   as in a container.
# - SIGTERM, SIGINT or SIGHUP stops it: the component gets SIGTERM, then
#   SIGKILL after SUPERVISE_STOP_TIMEOUT seconds (20), what is left of its
#   group SIGTERM and 5 s later SIGKILL, and the supervisor exits 0.
# - SUPERVISE_STOP_WITH_PID: stop as above when that process is gone (a
#   test passes its own pid, so that a killed test leaves nothing running).
#
# CHILD_PID_FILE holds the pid (and process group) of the component's
# current run, for `make down` should the supervisor itself be gone.
set -uo pipefail

if (($# < 3)); then
	echo "usage: $0 NAME CHILD_PID_FILE CMD [ARG...]" >&2
	exit 2
fi
name=$1 child_file=$2
shift 2

fast=${SUPERVISE_FAST:-10}
max_fast=${SUPERVISE_MAX_FAST:-6}
first_delay=${SUPERVISE_DELAY:-1}
max_delay=30
stop_timeout=${SUPERVISE_STOP_TIMEOUT:-20}
for v in fast max_fast first_delay stop_timeout; do
	[[ ${!v} =~ ^[0-9]+$ ]] || {
		echo "supervise: $name: $v=${!v} is not a whole number of seconds" >&2
		exit 2
	}
done

say() { printf '%s supervise: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# alive PID: exists and is not a zombie.
alive() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# now_us: the time in microseconds (SECONDS would count a run across a
# second's boundary as a second long).
now_us() { echo "${EPOCHREALTIME//[!0-9]/}"; }

# how STATUS: "exited with status N" or "was killed by SIGX".
how() {
	if (($1 > 128)) && sig=$(kill -l "$(($1 - 128))" 2>/dev/null); then
		echo "was killed by SIG$sig"
	else
		echo "exited with status $1"
	fi
}

child='' stopping='' sleeper='' watchdog=''
stop() {
	stopping=1
	[[ -n $child ]] && kill -TERM "$child" 2>/dev/null
	[[ -n $sleeper ]] && kill -TERM "$sleeper" 2>/dev/null
}
trap stop TERM INT HUP

# end_group PGID: what is left of a run's process group (a child of a
# component that died) gets SIGTERM, then SIGKILL after 5 s.
end_group() {
	local i
	kill -0 -- "-$1" 2>/dev/null || return 0
	kill -TERM -- "-$1" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 -- "-$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$1" 2>/dev/null
}

# finish: stop the current run (SIGTERM, SIGKILL after stop_timeout) and
# what it started, and exit.
finish() {
	local i
	if [[ -n $child ]]; then
		if alive "$child"; then
			kill -TERM "$child" 2>/dev/null
			for ((i = 0; i < stop_timeout * 10; i++)); do
				alive "$child" || break
				sleep 0.1
			done
			if alive "$child"; then
				say "$name (pid $child) still running $stop_timeout s after SIGTERM: SIGKILL"
				kill -KILL -- "-$child" 2>/dev/null
			fi
		fi
		wait "$child" 2>/dev/null
		end_group "$child"
	fi
	[[ -n $watchdog ]] && kill "$watchdog" 2>/dev/null
	rm -f "$child_file"
	exit "${1:-0}"
}

if [[ -n ${SUPERVISE_STOP_WITH_PID:-} ]]; then
	owner=$SUPERVISE_STOP_WITH_PID me=$$
	(
		# Its sleep goes with it when the supervisor ends it.
		sleeper=''
		trap '[[ -n $sleeper ]] && kill "$sleeper"; exit 0' TERM
		trap - INT HUP
		while alive "$owner"; do
			sleep 1 &
			sleeper=$!
			wait "$sleeper"
		done
		kill -TERM "$me" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	watchdog=$!
fi

fast_failures=0 restarts=0
while :; do
	[[ -n $stopping ]] && finish 0
	started=$(now_us)
	# A session and process group of its own (setsid does not fork here:
	# a background job of a script is no group leader), so that what the
	# component started goes with it, as in a container.
	setsid "$@" </dev/null &
	child=$!
	echo "$child" >"$child_file"
	# wait returns the child's status when it exits, or early when a
	# trapped signal arrives (all of them stop the supervisor). Its
	# stderr would say "Killed" and the like: the line below says it.
	while :; do
		wait "$child" 2>/dev/null
		status=$?
		[[ -n $stopping ]] && finish 0
		alive "$child" || break
	done
	ran=$((($(now_us) - started) / 1000000)) # whole seconds, rounded down
	end_group "$child"
	[[ -n $stopping ]] && finish 0
	if ((ran < fast)); then
		fast_failures=$((fast_failures + 1))
	else
		fast_failures=0
	fi
	if ((fast_failures >= max_fast)); then
		say "$name (pid $child) $(how "$status") after ${ran} s: $fast_failures runs in a row ended within $fast s of their start; giving up (see its log; \`make up\` starts it again)"
		child=''
		finish 1
	fi
	delay=$first_delay
	for ((i = 1; i < fast_failures && delay < max_delay; i++)); do
		delay=$((delay * 2))
	done
	((delay > max_delay)) && delay=$max_delay
	restarts=$((restarts + 1))
	say "$name (pid $child) $(how "$status") after ${ran} s: restart $restarts in $delay s"
	child=''
	sleep "$delay" &
	sleeper=$!
	wait "$sleeper" 2>/dev/null
	sleeper=''
done
