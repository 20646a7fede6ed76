#!/usr/bin/env bash
# make up: the whole price pipeline on this host, without Docker.
#
#   CoinGecko (or the replay server) -> scraper Telegraf -> Kafka (KRaft)
#     -> consumer Telegraf -> bin/redis-output -> Redis coingecko:rate:usd
#
# Sets up what is missing (packages, Kafka jars, bin/telegraf, our binaries),
# starts every process in the background with its log in run/logs, records
# its pid in run/pids, and prints the live quote. `make down` stops exactly
# these processes.
#
# Environment: REDIS_PORT (6379), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT
# (9093), SCRAPE_INTERVAL (20s with the real API, 2s with the replay
# server), COINGECKO_URL (a simple/price URL: used as is), COINGECKO_API_KEY,
# PRICE_SOURCE (auto | coingecko | replay; auto asks the real API's /ping
# and falls back to the replay server).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=$ROOT/run
mkdir -p "$RUN/logs" "$RUN/pids" "$RUN/redis"

REDIS_PORT=${REDIS_PORT:-6379}
KAFKA_PORT=${KAFKA_PORT:-9092}
export KAFKA_PORT KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093} KAFKA_DIR=$RUN/kafka
COINS=bitcoin,ethereum,ripple,cardano,binancecoin,solana,dogecoin,chainlink,near,decentraland
PRICE_SOURCE=${PRICE_SOURCE:-auto}

say() { printf 'up: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() {
	local f=$RUN/pids/$1.pid
	[[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# start NAME CMD...: run in its own session, log to run/logs/NAME.log.
start() {
	local name=$1
	shift
	if running "$name"; then
		say "$name already running (pid $(cat "$RUN/pids/$name.pid"))"
		return
	fi
	setsid "$@" >"$RUN/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$RUN/pids/$name.pid"
	say "started $name (pid $!, log run/logs/$name.log)"
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
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" --appendonly yes \
		--daemonize yes --pidfile "$RUN/pids/redis.pid" --logfile "$RUN/logs/redis.log"
	for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	say "started redis on 127.0.0.1:$REDIS_PORT (log run/logs/redis.log)"
fi

# Kafka 4 in KRaft mode, from Maven Central's jars.
if scripts/kafka.sh status >/dev/null 2>&1; then
	say "kafka already running"
else
	port_busy "$KAFKA_PORT" && die "127.0.0.1:$KAFKA_PORT is in use: stop it or set KAFKA_PORT"
	scripts/kafka.sh start
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
			start replay bin/coingecko-replay -listen 127.0.0.1:0 -seed "$(date +%s)" -ids "$COINS"
			for _ in $(seq 50); do grep -q 'listening on' "$RUN/logs/replay.log" && break; sleep 0.1; done
		fi
		base=$(sed -n 's/^listening on //p' "$RUN/logs/replay.log" | head -n1)
		[[ -n $base ]] || die "the replay server did not start: see run/logs/replay.log"
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
start consumer bin/telegraf --strict-env-handling --config telegraf/consumer.conf
start scraper bin/telegraf --strict-env-handling --config telegraf/scraper.conf

say "waiting for a fresh quote in Redis (key coingecko:rate:usd)"
for _ in $(seq 600); do
	quote=$(redis-cli -p "$REDIS_PORT" --raw get coingecko:rate:usd 2>/dev/null || true)
	[[ -n $quote && $quote != "$previous" ]] && break
	sleep 0.1
done
[[ -n ${quote:-} && $quote != "$previous" ]] || die "no new quote after 60 s: see run/logs/*.log"
echo "$quote"
cat >&2 <<EOT
up: running. Logs: run/logs/{redis,kafka,replay,scraper,consumer}.log (Kafka: run/kafka/server.log)
up: watch the quote:  redis-cli -p $REDIS_PORT --raw get coingecko:rate:usd
up: stop everything:  make down
EOT
