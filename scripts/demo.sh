#!/usr/bin/env bash
# Feeds an example stream (what Telegraf's [[outputs.execd]] writes) through
# bin/redis-output into a redis-server of its own, prints the stored quote,
# and stops that server again.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${REDIS_PORT:-6390}
stream=${1:-testdata/examples/steady.jsonl}
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

REDIS_ADDRESS=127.0.0.1:$port REDIS_SPOOL_DIR=$dir/spool bin/redis-output -config telegraf/redis-output.conf <"$stream"
echo "coingecko:rate:usd ="
redis-cli -p "$port" --raw get coingecko:rate:usd
