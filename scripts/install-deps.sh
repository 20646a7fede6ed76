#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, and
# nothing when it is already there: redis-server (tests start their own),
# Java 17 with Maven (the host pipeline runs Kafka from Maven Central
# jars), and npm (make lint installs markdownlint-cli with it, which needs
# Node.js 20 or newer). Go itself must be on PATH (go.mod names the version).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
command -v npm >/dev/null 2>&1 || need+=(npm)

if ((${#need[@]})); then
  echo "install-deps: installing ${need[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root for apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is not on PATH; install Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") or newer" >&2
  exit 1
fi
