#!/usr/bin/env bash
# make up: the whole price pipeline on this host, without Docker.
#
#   CoinGecko (or the replay server) -> scraper Telegraf -> Kafka (KRaft)
#     -> consumer Telegraf -> bin/redis-output -> Redis coingecko:rate:usd
#
# Sets up what is missing (packages, Kafka jars, bin/telegraf, our binaries),
# starts every process in the background, each under a supervisor
# (scripts/supervise.sh) that restarts it when it dies, as compose's restart
# policy does, with its log in run/logs, and prints the live quote.
# redis-output keeps what it read in a spool (run/spool) until it is in
# Redis, so a SIGKILL of it or of the consumer loses nothing. `make down`
# stops exactly these processes. A component already running is left as
# it is; one whose supervisor gave up is started again.
#
# Environment: REDIS_PORT (6379), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT
# (9093), SCRAPE_INTERVAL (20s with the real API, 2s with the replay
# server), COINGECKO_URL (a simple/price URL: used as is), COINGECKO_API_KEY,
# PRICE_SOURCE (auto | coingecko | replay; auto asks the real API's /ping
# and falls back to the replay server), REPLAY_PORT (the replay server's;
# a free one by default), REDIS_SPOOL_DIR (run/spool), RUN_DIR (run, where
# data, logs and pids go), SUPERVISE_* (scripts/supervise.sh),
# UP_STOP_WITH_PID (stop everything when that process is gone: for tests).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$(realpath -m "${RUN_DIR:-$ROOT/run}")
mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/redis"

REDIS_PORT=${REDIS_PORT:-6379}
KAFKA_PORT=${KAFKA_PORT:-9092}
export KAFKA_PORT KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093} KAFKA_DIR=$RUN/kafka
COINS=bitcoin,ethereum,ripple,cardano,binancecoin,solana,dogecoin,chainlink,near,decentraland
PRICE_SOURCE=${PRICE_SOURCE:-auto}
# Every process started here carries this mark, so that `make down` finds
# whatever is left of them (scripts/down.sh).
export UP_RUN_DIR=$RUN
[[ -n ${UP_STOP_WITH_PID:-} ]] && export SUPERVISE_STOP_WITH_PID=$UP_STOP_WITH_PID

say() { printf 'up: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# running NAME: its supervisor is alive.
running() {
	local f=$RUN/pids/$1.pid pid cmd
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmd=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
	[[ $cmd == *"supervise.sh $1 "* ]]
}

# start NAME CMD...: run CMD under a supervisor in a session of its own,
# logging to run/logs/NAME.log.
start() {
	local name=$1
	shift
	if running "$name"; then
		say "$name already running (supervisor pid $(cat "$RUN/pids/$name.pid"))"
		return
	fi
	setsid scripts/supervise.sh "$name" "$RUN/pids/$name.child" "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/pids/$name.pid"
	say "started $name under a supervisor (pid $!, log ${RUN#"$ROOT"/}/logs/$name.log)"
}

# alive PID: exists and is not a zombie.
alive() {
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# gave_up NAME: the supervisor just started is gone (it gives up after
# fast failures). (Not `running`: right after the start, the process may
# not show the supervisor's command line yet.)
gave_up() {
	alive "$(cat "$RUN/pids/$1.pid")" && return 0
	tail -n 5 "$RUN/logs/$1.log" >&2
	die "$1 does not start: see ${RUN#"$ROOT"/}/logs/$1.log"
}

# free_port: a port nothing listens on, for the replay server, which must
# keep it across restarts (the scraper's URL names it).
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 20000))
		port_busy "$p" || {
			echo "$p"
			return
		}
	done
	die "found no free port for the replay server: set REPLAY_PORT"
}

say "setting up (first run: packages, Kafka jars, Telegraf build; a few minutes)"
scripts/install-deps.sh
make --no-print-directory build telegraf >/dev/null
scripts/kafka.sh fetch

# Redis, with AOF so a restart keeps the quote.
if running redis; then
	say "redis already running"
else
	port_busy "$REDIS_PORT" && die "127.0.0.1:$REDIS_PORT is in use (another Redis?): stop it or set REDIS_PORT"
	start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" --appendonly yes
	for ((i = 0; ; i++)); do
		redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
		gave_up redis
		((i < 600)) || die "redis does not answer after 60 s: see ${RUN#"$ROOT"/}/logs/redis.log"
		sleep 0.1
	done
	say "redis serves on 127.0.0.1:$REDIS_PORT"
fi

# Kafka 4 in KRaft mode, from Maven Central's jars, in the foreground of
# its supervisor.
if running kafka; then
	say "kafka already running"
else
	if scripts/kafka.sh status >/dev/null 2>&1; then
		die "a Kafka from $KAFKA_DIR runs without a supervisor (started by an older make up?): make down, then make up"
	fi
	port_busy "$KAFKA_PORT" && die "127.0.0.1:$KAFKA_PORT is in use: stop it or set KAFKA_PORT"
	rm -f "$KAFKA_DIR/log-from"
	start kafka scripts/kafka.sh run
	if ! scripts/kafka.sh wait; then
		gave_up kafka
		die "kafka does not serve: see ${RUN#"$ROOT"/}/logs/kafka.log and $KAFKA_DIR/server.log"
	fi
fi
scripts/kafka.sh topic-create currency.rate 1 >/dev/null

# Where prices come from: COINGECKO_URL as given, else the real API when it
# answers, else the replay server; said loudly either way.
url=${COINGECKO_URL:-}
if [[ -z $url ]]; then
	real="https://api.coingecko.com/api/v3/simple/price?ids=$COINS&vs_currencies=usd&precision=18"
	if [[ $PRICE_SOURCE == coingecko ]] ||
		{ [[ $PRICE_SOURCE == auto ]] && curl -fsS --max-time 5 https://api.coingecko.com/api/v3/ping >/dev/null 2>&1; }; then
		url=$real
		say "PRICES: the real CoinGecko API ($url)"
		SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-20s}
	else
		if ! running replay; then
			port=${REPLAY_PORT:-$(free_port)}
			echo "$port" >"$RUN/replay.port"
			start replay bin/coingecko-replay -listen "127.0.0.1:$port" -seed "$(date +%s)" -ids "$COINS"
		fi
		port=$(cat "$RUN/replay.port")
		for ((i = 0; ; i++)); do
			grep -q "listening on http://127.0.0.1:$port" "$RUN/logs/replay.log" 2>/dev/null && break
			gave_up replay
			((i < 100)) || die "the replay server does not listen after 10 s: see ${RUN#"$ROOT"/}/logs/replay.log"
			sleep 0.1
		done
		base=http://127.0.0.1:$port
		url="$base/api/v3/simple/price?ids=$COINS&vs_currencies=usd&precision=18"
		say "PRICES: *** the CoinGecko API is not used: prices come from the REPLAY SERVER (seeded random walk) at $base ***"
		SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-2s}
	fi
fi

# The quote a previous run left (Redis keeps it across runs): the one to
# print is the next.
previous=$(redis-cli -p "$REDIS_PORT" --raw get coingecko:rate:usd 2>/dev/null || true)

export COINGECKO_URL=$url SCRAPE_INTERVAL KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export REDIS_ADDRESS=127.0.0.1:$REDIS_PORT REDIS_OUTPUT_BIN=$ROOT/bin/redis-output
export REDIS_OUTPUT_CONFIG=$ROOT/telegraf/redis-output.conf
# What redis-output read waits here until it is in Redis.
export REDIS_SPOOL_DIR=${REDIS_SPOOL_DIR:-$RUN/spool}
start consumer bin/telegraf --strict-env-handling --config telegraf/consumer.conf
start scraper bin/telegraf --strict-env-handling --config telegraf/scraper.conf

say "waiting for a fresh quote in Redis (key coingecko:rate:usd)"
for _ in $(seq 600); do
	quote=$(redis-cli -p "$REDIS_PORT" --raw get coingecko:rate:usd 2>/dev/null || true)
	[[ -n $quote && $quote != "$previous" ]] && break
	sleep 0.1
done
[[ -n ${quote:-} && $quote != "$previous" ]] || die "no new quote after 60 s: see ${RUN#"$ROOT"/}/logs/*.log"
echo "$quote"
logs=${RUN#"$ROOT"/}
cat >&2 <<EOT
up: running, each process under a supervisor that restarts it when it dies (one line per restart in its log).
up: logs: $logs/logs/{redis,kafka,replay,scraper,consumer}.log (Kafka's own: $logs/kafka/server.log)
up: redis-output's spool: $REDIS_SPOOL_DIR
up: watch the quote:  redis-cli -p $REDIS_PORT --raw get coingecko:rate:usd
up: stop everything:  make down
EOT
