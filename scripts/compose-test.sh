#!/usr/bin/env bash
# compose-test.sh: `docker compose up` of our compose files, for real, on a
# machine without Docker or an image registry (make compose-test).
#
#   scripts/compose-test.sh [all|images|backend|cluster|clean]
#
# - The container engine is Debian's podman with runc, the cgroupfs manager
#   and no default ulimits (containers.conf written here, used through
#   CONTAINERS_CONF), behind its Docker-compatible API (`podman system
#   service` on a socket of ours).
# - Docker Compose is github.com/docker/compose/v5 at COMPOSE_VERSION, built
#   once from the Go module proxy into .cache/compose-test/ (Debian's
#   podman-compose was not needed and is not used).
# - The images the files name (telegraf, redis, apache/kafka, golang) are
#   built locally under exactly those names, as labelled stand-ins, from a
#   debootstrapped Debian bookworm (scripts/compose-test/*/Containerfile).
# - backend: backend.yml + producer.yml + consumer.yml `up -d --build`, prices
#   from coingecko-replay in a container on the project's network (no traffic
#   leaves it), until a quote newer than `up` is in Redis; prints the time from
#   `up` to that quote; stops the replay and waits until the quote is exactly
#   the last prices served; `down -v` must leave nothing behind.
# - cluster: cluster.yml with a scraper and two consumers (this directory's
#   cluster-pipeline.yml), a consumer and a Redis master stopped mid-run, the
#   other consumer SIGKILLed while that master is down; the final quote must
#   still be exactly the last prices served.
#
# Everything it starts is removed when it ends, failed or not: containers,
# networks, volumes, the API service, and the images it built unless
# COMPOSE_TEST_KEEP_IMAGES=1 (then a later run reuses those whose inputs are
# unchanged). The debootstrapped root file system is kept in .cache/ as a
# download cache, like the Kafka jars.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HERE=$ROOT/scripts/compose-test
PREFIX=telegraf-redis-test
CACHE=$ROOT/.cache/compose-test
COMPOSE_VERSION=${COMPOSE_VERSION:-v5.6.0}
KEEP_IMAGES=${COMPOSE_TEST_KEEP_IMAGES:-0}
QUOTE_TIMEOUT=${COMPOSE_TEST_QUOTE_TIMEOUT:-900}
TELEGRAF_TAGS=${TELEGRAF_TAGS:?TELEGRAF_TAGS: run through make compose-test}
BASE_IMAGE=localhost/$PREFIX-debian:bookworm
REPLAY=$PREFIX-replay
QUOTE_KEY=coingecko:rate:usd
REPLAY_IDS=bitcoin,ethereum,ripple,cardano,binancecoin,solana,dogecoin,chainlink,near,decentraland

log() { echo "compose-test: $*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

RUN=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
SOCK=$RUN/podman.sock
export CONTAINERS_CONF=$RUN/containers.conf
export DOCKER_HOST=unix://$SOCK
# Compose must not reach for a BuildKit it cannot have: podman's API builds
# with buildah through the classic /build endpoint.
export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false COMPOSE_ANSI=never COMPOSE_PROGRESS=plain
service_pid=
built_images=()
projects=()

# --- the engine --------------------------------------------------------------

install_packages() {
	local need=() p
	for p in podman runc netavark aardvark-dns debootstrap conmon catatonit; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
	done
	command -v jq >/dev/null || need+=(jq)
	command -v curl >/dev/null || need+=(curl)
	if ((${#need[@]})); then
		[[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${need[*]}"
		log "installing ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
}

# Podman as it runs on this kernel: crun fails on its cgroup mode, so runc
# with the cgroupfs manager; raising RLIMIT_NOFILE is not permitted here,
# so no default ulimits; netavark, whose aardvark-dns gives containers on
# a user network each other's service names.
write_containers_conf() {
	cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
EOF
}

podman() { command podman "$@"; }

start_service() {
	log "podman $(command podman version --format '{{.Client.Version}}') API on $SOCK (runc, cgroupfs)"
	command podman system service --time=0 "unix://$SOCK" >"$RUN/podman-service.log" 2>&1 &
	service_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		if curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$service_pid" 2>/dev/null || break
		sleep 0.2
	done
	cat "$RUN/podman-service.log" >&2
	die "podman system service did not answer on $SOCK"
}

# Podman runs health checks from systemd timers; with the cgroupfs manager
# and no systemd nothing runs them, every container stays "starting", and a
# depends_on with condition service_healthy waits for ever. This loop stands
# in for that scheduler: each running container of a compose project that
# has a health check gets `podman healthcheck run` an interval (its own)
# after the last check ended, one check at a time, as Docker does.
health_pid=
start_health_scheduler() {
	(
		# A failing check is the container's business, not this loop's.
		set +e
		declare -A every next running
		while :; do
			now=$(date +%s)
			for id in $(command podman ps -q --filter label=com.docker.compose.project 2>/dev/null); do
				if [[ -z ${every[$id]:-} ]]; then
					iv=$(command podman inspect --format '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Interval}}{{end}}' "$id" 2>/dev/null || true)
					every[$id]=$(awk -v d="${iv:-0}" 'BEGIN { s = 0; if (d ~ /m/) { split(d, a, "m"); s = a[1] * 60; d = a[2] } sub(/s$/, "", d); s += d + 0; print (s > 0 ? int(s + 0.5) : 0) }')
					next[$id]=$((now + every[$id]))
				fi
				((every[$id] > 0)) || continue
				if [[ -n ${running[$id]:-} ]]; then
					kill -0 "${running[$id]}" 2>/dev/null && continue
					wait "${running[$id]}" 2>/dev/null
					running[$id]=
					next[$id]=$((now + every[$id]))
				fi
				((now >= next[$id])) || continue
				command podman healthcheck run "$id" >/dev/null 2>&1 &
				running[$id]=$!
			done
			sleep 1
		done
	) &
	health_pid=$!
}

# --- Docker Compose ----------------------------------------------------------

compose_bin=
ensure_compose() {
	compose_bin=$CACHE/bin/docker-compose-$COMPOSE_VERSION
	if [[ ! -x $compose_bin ]]; then
		log "building Docker Compose $COMPOSE_VERSION from the Go module proxy (once)"
		local mod src
		mod=github.com/docker/compose/v5
		# Its go.mod has exclude directives, which `go install pkg@version`
		# refuses: build it as the main module of a copy.
		src=$(cd "$RUN" && GOFLAGS= go mod download -json "$mod@$COMPOSE_VERSION" | jq -r .Dir)
		[[ -d $src ]] || die "go mod download $mod@$COMPOSE_VERSION failed"
		rm -rf "$RUN/compose-src"
		cp -r "$src" "$RUN/compose-src"
		chmod -R u+w "$RUN/compose-src"
		mkdir -p "$CACHE/bin"
		(cd "$RUN/compose-src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
			-ldflags "-s -w -X $mod/internal.Version=$COMPOSE_VERSION" -o "$compose_bin.tmp" ./cmd)
		mv "$compose_bin.tmp" "$compose_bin"
		rm -rf "$RUN/compose-src"
	fi
	log "compose tool: $("$compose_bin" version)"
}

compose() { "$compose_bin" "$@"; }

# --- stand-in images -----------------------------------------------------------

# image_of NAME FILE: the image reference FILE gives NAME (telegraf, redis,
# apache/kafka), or the FROM of the build stage for golang.
image_of() {
	case $1 in
	golang) sed -n 's/^FROM \(golang:[^ ]*\).*/\1/p' compose/Dockerfile | head -n1 ;;
	*) grep -h -E "^[[:space:]]+image: $1:" compose/backend.yml compose/producer.yml compose/cluster.yml | head -n1 | sed 's/^[[:space:]]*image:[[:space:]]*//' ;;
	esac
}

# docker.io names, as Docker normalises the short names in the files.
full_name() {
	case $1 in
	*/*) echo "docker.io/$1" ;;
	*) echo "docker.io/library/$1" ;;
	esac
}

# build_image REF CONTEXT [build-arg...]: build unless an image of that name
# carries the same input hash (only when images are kept between runs).
build_image() {
	local ref=$1 ctx=$2
	shift 2
	local hash have
	hash=$(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
	# The base image's id too: a new base rebuilds what is built on it.
	local base_id=
	[[ $ref == "$BASE_IMAGE" ]] || base_id=$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE")
	hash=$(printf '%s %s %s\n' "$hash" "$*" "$base_id" | sha256sum | cut -c1-16)
	have=$(podman image inspect --format '{{index .Labels "telegraf-redis.inputs"}}' "$ref" 2>/dev/null || true)
	built_images+=("$ref")
	if [[ $have == "$hash" ]]; then
		log "image $ref: up to date"
		return
	fi
	local a args=()
	for a in "$@"; do args+=(--build-arg "$a"); done
	log "building $ref"
	# --network host: apt-get in the build reaches Debian's mirror.
	podman build --network host --pull=never --label "telegraf-redis.inputs=$hash" "${args[@]}" \
		-t "$ref" -f "$ctx/Containerfile" "$ctx" >"$RUN/build-$(basename "$ctx").log" 2>&1 || {
		tail -n 30 "$RUN/build-$(basename "$ctx").log" >&2
		die "podman build of $ref failed"
	}
}

build_base() {
	local tar=$CACHE/debian-bookworm-rootfs.tar
	if [[ ! -f $tar ]]; then
		log "debootstrap Debian bookworm (minbase) into $tar (once)"
		local root=$RUN/rootfs
		debootstrap --variant=minbase --include=ca-certificates bookworm "$root" http://deb.debian.org/debian >"$RUN/debootstrap.log" 2>&1 || {
			tail -n 20 "$RUN/debootstrap.log" >&2
			die "debootstrap failed"
		}
		# As Debian's own images: no services start in package scripts, no
		# apt caches kept.
		printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
		chmod +x "$root/usr/sbin/policy-rc.d"
		chroot "$root" apt-get clean
		rm -rf "$root"/var/lib/apt/lists/*
		mkdir -p "$CACHE"
		tar -C "$root" --numeric-owner -cf "$tar.tmp" .
		mv "$tar.tmp" "$tar"
		rm -rf "$root"
	fi
	local raw=$BASE_IMAGE-debootstrap hash have
	hash=$(stat -c '%s-%Y' "$tar")
	have=$(podman image inspect --format '{{index .Labels "telegraf-redis.inputs"}}' "$raw" 2>/dev/null || true)
	built_images+=("$raw")
	if [[ $have != "$hash" ]]; then
		log "importing $raw"
		podman import -q --change 'CMD ["bash"]' --change "LABEL telegraf-redis.inputs=$hash" \
			--change 'LABEL org.opencontainers.image.description="Debian bookworm minbase from debootstrap, for telegraf-redis stand-in images"' \
			"$tar" "$raw" >/dev/null
	fi

	# The certificate authorities this machine trusts beyond Debian's (a
	# TLS-inspecting proxy in front of the package registries): without
	# them `go build` in the golang stand-in cannot reach the Go proxy.
	local ctx=$RUN/ctx/base
	mkdir -p "$ctx/cas"
	podman run --rm "$raw" cat /etc/ssl/certs/ca-certificates.crt >"$ctx/debian.pem"
	awk -v dir="$ctx/cas" -v known="$ctx/debian.pem" '
		BEGIN { while ((getline l < known) > 0) { k = k l "\n"; if (l ~ /^-----END/) { seen[k] = 1; k = "" } } }
		{ c = c $0 "\n" }
		/^-----END CERTIFICATE-----/ { if (!(c in seen)) { n++; printf "%s", c > (dir "/machine-" n ".crt") } c = "" }
	' "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
	rm "$ctx/debian.pem"
	log "base image: $(find "$ctx/cas" -name '*.crt' | wc -l) certificate authorities of this machine added to Debian's"
	printf '%s\n' 'ARG RAW' 'FROM ${RAW}' 'COPY cas/ /usr/local/share/ca-certificates/' \
		'RUN update-ca-certificates >/dev/null' >"$ctx/Containerfile"
	build_image "$BASE_IMAGE" "$ctx" "RAW=$raw"
	rm -rf "$ctx"
}

build_images() {
	build_base
	local ctx ref ver

	# golang: this machine's Go toolchain.
	ref=$(image_of golang)
	ver=$(go env GOVERSION)
	[[ ${ref#golang:} == "${ver#go}"-* ]] || log "note: $ref stand-in gets this machine's $ver"
	ctx=$RUN/ctx/golang
	mkdir -p "$ctx"
	cp "$HERE/golang/Containerfile" "$ctx/"
	cp -a "$(go env GOROOT)" "$ctx/go"
	build_image "$(full_name "$ref")" "$ctx" "BASE=$BASE_IMAGE" "GOLANG_VERSION=${ver#go}"
	rm -rf "$ctx"

	# telegraf: the pinned module, the plugins our configs use.
	ref=$(image_of telegraf)
	ver=$(go list -m -f '{{.Version}}' github.com/influxdata/telegraf)
	[[ ${ref#telegraf:} == "${ver#v}" ]] || die "$ref in the compose files, but go.mod pins Telegraf $ver"
	ctx=$RUN/ctx/telegraf
	mkdir -p "$ctx"
	cp "$HERE/telegraf/Containerfile" "$HERE/telegraf/entrypoint.sh" "$ctx/"
	log "building Telegraf $ver (tags $TELEGRAF_TAGS)"
	go build -trimpath -tags "$TELEGRAF_TAGS" \
		-ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=${ver#v}" \
		-o "$ctx/telegraf" github.com/influxdata/telegraf/cmd/telegraf
	"$ctx/telegraf" config >"$ctx/telegraf.conf"
	build_image "$(full_name "$ref")" "$ctx" "BASE=$BASE_IMAGE" "TELEGRAF_VERSION=${ver#v}"
	rm -rf "$ctx"

	# redis: Debian's redis-server.
	ref=$(image_of redis)
	build_image "$(full_name "$ref")" "$HERE/redis" "BASE=$BASE_IMAGE"

	# apache/kafka: the Maven jars.
	ref=$(image_of apache/kafka)
	ver=$(tr -d '[:space:]' <scripts/kafka/VERSION)
	[[ ${ref#apache/kafka:} == "$ver" ]] || die "$ref in the compose files, but scripts/kafka/VERSION is $ver"
	scripts/kafka.sh fetch
	ctx=$RUN/ctx/kafka
	mkdir -p "$ctx"
	cp -a "$HERE/kafka/." "$ctx/"
	mkdir -p "$ctx/libs"
	cp "$ROOT/.cache/kafka-libs/$ver/"*.jar "$ctx/libs/"
	build_image "$(full_name "$ref")" "$ctx" "BASE=$BASE_IMAGE" "KAFKA_VERSION=$ver"
	rm -rf "$ctx"

	local r
	for r in golang telegraf redis apache/kafka; do
		ref=$(full_name "$(image_of "$r")")
		log "stand-in $ref: $(podman image inspect --format '{{index .Labels "org.opencontainers.image.description"}}' "$ref")"
	done
	log "redis stand-in runs: $(podman run --rm "$(full_name "$(image_of redis)")" redis-server --version)"
}

# --- helpers for the scenarios --------------------------------------------------

# Every container, network and volume of a compose project, by its label.
leftovers() {
	local p=$1
	{
		podman ps -a --filter "label=com.docker.compose.project=$p" --format 'container {{.Names}}'
		podman network ls --filter "label=com.docker.compose.project=$p" --format 'network {{.Name}}'
		podman volume ls --filter "label=com.docker.compose.project=$p" --format 'volume {{.Name}}'
	} 2>/dev/null
}

# Start coingecko-replay on network NET, its served log in $RUN/served-NET.jsonl.
start_replay() {
	local net=$1
	: >"$RUN/served-$net.jsonl"
	podman run -d --name "$REPLAY" --network "$net" --network-alias "$REPLAY" \
		--label "telegraf-redis.test=$PREFIX" \
		-v "$ROOT/bin/coingecko-replay:/usr/local/bin/coingecko-replay:ro" \
		-v "$RUN:/log" "$BASE_IMAGE" \
		coingecko-replay -listen 0.0.0.0:8080 -served-log "/log/served-$net.jsonl" >/dev/null
}

stop_replay() {
	podman rm -f -t 2 "$REPLAY" >/dev/null 2>&1 || true
}

replay_url() {
	echo "http://$REPLAY:8080/api/v3/simple/price?ids=$REPLAY_IDS&vs_currencies=usd&precision=18"
}

# quote_ok QUOTE SINCE: the quote is a document of all the replay's coins with
# a timestamp at or after SINCE (unix seconds).
quote_ok() {
	jq -e --argjson since "$2" --argjson n "$(tr ',' '\n' <<<"$REPLAY_IDS" | wc -l)" \
		'.quote == "usd" and .timestamp >= $since and (.prices | length) == $n' <<<"$1" >/dev/null 2>&1
}

# quote_matches QUOTE SERVED_LOG: every coin's price in the quote is exactly
# (as a float64) the one the replay served last. Prices of one coin with the
# same time are decided by the higher price (plugins/outputs/redis README),
# and the scraper stamps whole seconds: when other responses were served
# within a second of the last, a coin's expected price is the highest of
# them.
quote_matches() {
	jq -e -n --argjson q "$1" --slurpfile served "$2" '
		def secs: sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601;
		[$served[] | select(.status == 200)] as $ok
		| ($ok | last) as $last
		| [$ok[] | select((.time | secs) >= ($last.time | secs) - 1)] as $tail
		| ($q.prices | map({key: .id, value: (.price | tonumber)}) | from_entries) as $got
		| ($last.body | keys | map({key: ., value: ([$tail[].body[.].usd] | max)}) | from_entries) as $want
		| $last != null and $got == $want' >/dev/null 2>&1
}

# wait_quote_matching GET SERVED_LOG WHAT: poll until the quote matches the
# last served prices.
wait_matching() {
	local get=$1 served=$2 what=$3 deadline=$((SECONDS + 180)) q=
	while ((SECONDS < deadline)); do
		q=$($get 2>/dev/null || true)
		if [[ -n $q ]] && quote_matches "$q" "$served"; then
			log "$what: the quote is exactly the last prices served (step $(jq -s 'map(select(.status == 200)) | last | .step' "$served"))"
			return 0
		fi
		sleep 1
	done
	log "last quote: $q"
	log "last served: $(jq -c 'select(.status == 200)' "$served" | tail -n1)"
	die "$what: the quote did not become the last prices served within 180 s"
}

# Every container, network and volume on the machine, labelled or not
# (images declare anonymous volumes that carry no compose label).
engine_state() {
	{
		command podman ps -a --format 'container {{.Names}}'
		command podman network ls --format 'network {{.Name}}'
		command podman volume ls --format 'volume {{.Name}}'
	} | sort
}

check_down() {
	local p=$1 before=$2 left
	left=$(comm -13 "$before" <(engine_state))
	[[ -z $left ]] || die "after down, project $p left: $(tr '\n' ' ' <<<"$left")"
	log "down: no container, network or volume of $p is left"
}

# --- backend + producer + consumer --------------------------------------------

BACKEND_FILES=(-f compose/backend.yml -f compose/producer.yml -f compose/consumer.yml)
backend_quote() { compose "${BACKEND_FILES[@]}" exec -T redis redis-cli -h redis --raw GET "$QUOTE_KEY"; }

scenario_backend() {
	set -- backend
	local project=currency-rates
	projects+=("backend")
	[[ -z $(leftovers "$project") ]] || die "project $project already has: $(leftovers "$project" | tr '\n' ' ') (another run? stop it first)"
	export COINGECKO_URL SCRAPE_INTERVAL=2s
	COINGECKO_URL=$(replay_url)

	engine_state >"$RUN/before-backend"
	log "backend: docker compose ${BACKEND_FILES[*]} up -d --build"
	local t0 t_up since q
	since=$(date +%s)
	t0=$(date +%s.%N)
	compose "${BACKEND_FILES[@]}" up -d --build >"$RUN/backend-up.log" 2>&1 || {
		tail -n 40 "$RUN/backend-up.log" >&2
		die "backend: compose up failed"
	}
	t_up=$(date +%s.%N)
	log "backend: up returned after $(elapsed "$t0" "$t_up") s (includes building the consumer image)"
	start_replay currency-rates

	local deadline=$((SECONDS + QUOTE_TIMEOUT))
	while :; do
		q=$(backend_quote 2>/dev/null || true)
		if [[ -n $q ]] && quote_ok "$q" "$since"; then
			break
		fi
		if ((SECONDS >= deadline)); then
			compose "${BACKEND_FILES[@]}" ps -a >&2 || true
			compose "${BACKEND_FILES[@]}" logs --tail 30 >&2 || true
			die "backend: no fresh quote in Redis within $QUOTE_TIMEOUT s of up"
		fi
		sleep 1
	done
	local t_q
	t_q=$(date +%s.%N)
	echo "compose-test: backend: first fresh quote $(elapsed "$t0" "$t_q") s after up started ($(elapsed "$t_up" "$t_q") s after up returned)"
	log "backend: quote: $(cut -c1-200 <<<"$q")..."

	# Exact: a few more scrapes, then no more prices (replay gone); the quote
	# must become the last prices served.
	local first_ts
	first_ts=$(jq .timestamp <<<"$q")
	deadline=$((SECONDS + 120))
	until q=$(backend_quote 2>/dev/null) && quote_ok "$q" $((first_ts + 6)); do
		((SECONDS < deadline)) || die "backend: the quote did not move on 6 s past the first within 120 s"
		sleep 1
	done
	stop_replay
	wait_matching backend_quote "$RUN/served-currency-rates.jsonl" backend

	compose "${BACKEND_FILES[@]}" down -v --remove-orphans >"$RUN/backend-down.log" 2>&1 || {
		cat "$RUN/backend-down.log" >&2
		die "backend: compose down failed"
	}
	check_down "$project" "$RUN/before-$1"
	projects=("${projects[@]/backend/}")
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- cleanup -------------------------------------------------------------------

cleanup() {
	local rc=$?
	set +e
	stop_replay
	local p
	for p in "${projects[@]}"; do
		case $p in
		backend) compose "${BACKEND_FILES[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 ;;
		cluster) compose "${CLUSTER_FILES[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 ;;
		esac
	done
	if [[ $KEEP_IMAGES != 1 ]]; then
		podman rmi -f telegraf-redis/consumer:dev >/dev/null 2>&1
		for p in "${built_images[@]}"; do podman rmi -f "$p" >/dev/null 2>&1; done
		podman image prune -f >/dev/null 2>&1
		# The build's cache mounts (the Dockerfile's Go module and build
		# caches) and builder scratch directories this run created.
		comm -13 "$RUN/var-tmp-before" <(var_tmp_state) | xargs -r rm -rf
	fi
	if [[ -n $health_pid ]]; then
		kill "$health_pid" 2>/dev/null
		wait "$health_pid" 2>/dev/null
	fi
	if [[ -n $service_pid ]]; then
		kill "$service_pid" 2>/dev/null
		wait "$service_pid" 2>/dev/null
	fi
	if ((rc != 0)); then
		log "logs of this run: $RUN (kept)"
	else
		rm -rf "$RUN"
	fi
	exit "$rc"
}

# What podman's builds leave in /var/tmp: cache mounts and scratch space.
var_tmp_state() {
	find /var/tmp/buildah-cache /var/tmp -mindepth 1 -maxdepth 1 \( -path '/var/tmp/buildah-cache/*' -o -name 'libpod_builder*' -o -name 'buildah*' \) 2>/dev/null | sort || true
}

main() {
	local what=${1:-all}
	[[ $(id -u) -eq 0 ]] || die "run as root (rootful podman)"
	var_tmp_state >"$RUN/var-tmp-before"
	trap cleanup EXIT
	install_packages
	write_containers_conf
	start_service
	start_health_scheduler
	ensure_compose
	[[ -x bin/coingecko-replay ]] || die "bin/coingecko-replay missing: make build"
	case $what in
	images) build_images ;;
	backend)
		build_images
		scenario_backend
		;;
	cluster)
		build_images
		scenario_cluster
		;;
	all)
		build_images
		scenario_backend
		scenario_cluster
		;;
	*) die "unknown step $what (all, images, backend, cluster)" ;;
	esac
	log "ok"
}

# --- cluster.yml ---------------------------------------------------------------

CLUSTER_FILES=(-f compose/cluster.yml -f scripts/compose-test/cluster-pipeline.yml)
REDIS_NODES=(redis-1 redis-2 redis-3 redis-4 redis-5 redis-6)
stopped_node=

# The quote, read through a node that runs (-c follows MOVED).
cluster_quote() {
	local n
	for n in "${REDIS_NODES[@]}"; do
		[[ $n == "$stopped_node" ]] && continue
		compose "${CLUSTER_FILES[@]}" exec -T "$n" redis-cli -c -h "$n" --raw GET "$QUOTE_KEY" && return 0
	done
	return 1
}

# The node that is master of the quote key's slot: a master answers GET for
# its own slots and MOVED for the others.
key_master() {
	local n out
	for n in "${REDIS_NODES[@]}"; do
		[[ $(compose "${CLUSTER_FILES[@]}" exec -T "$n" redis-cli -h "$n" ROLE 2>/dev/null | head -n1) == master ]] || continue
		out=$(compose "${CLUSTER_FILES[@]}" exec -T "$n" redis-cli -h "$n" --raw GET "$QUOTE_KEY" 2>&1) || continue
		[[ $out == MOVED* || -z $out ]] && continue
		echo "$n"
		return 0
	done
	return 1
}

# wait_newer WHAT SINCE: a complete quote with a timestamp of SINCE or later.
wait_newer() {
	local what=$1 since=$2 deadline=$((SECONDS + QUOTE_TIMEOUT)) q=
	while ((SECONDS < deadline)); do
		q=$(cluster_quote 2>/dev/null || true)
		if [[ -n $q ]] && quote_ok "$q" "$since"; then
			return 0
		fi
		sleep 1
	done
	compose "${CLUSTER_FILES[@]}" ps -a >&2 || true
	compose "${CLUSTER_FILES[@]}" logs --tail 30 scraper consumer-1 consumer-2 redis-cluster-init >&2 || true
	log "last quote: $q"
	die "cluster: $what: no quote with timestamp >= $since within $QUOTE_TIMEOUT s"
}

scenario_cluster() {
	set -- cluster
	local project=currency-rates-cluster
	projects+=("cluster")
	[[ -z $(leftovers "$project") ]] || die "project $project already has: $(leftovers "$project" | tr '\n' ' ') (another run? stop it first)"
	export COINGECKO_URL SCRAPE_INTERVAL=2s
	COINGECKO_URL=$(replay_url)

	engine_state >"$RUN/before-cluster"
	log "cluster: docker compose ${CLUSTER_FILES[*]} up -d --build"
	local t0 t_up t_q since
	since=$(date +%s)
	t0=$(date +%s.%N)
	compose "${CLUSTER_FILES[@]}" up -d --build >"$RUN/cluster-up.log" 2>&1 || {
		tail -n 40 "$RUN/cluster-up.log" >&2
		die "cluster: compose up failed"
	}
	t_up=$(date +%s.%N)
	log "cluster: up returned after $(elapsed "$t0" "$t_up") s"
	start_replay "$project"
	wait_newer "first quote" "$since"
	t_q=$(date +%s.%N)
	echo "compose-test: cluster: first fresh quote $(elapsed "$t0" "$t_q") s after up started ($(elapsed "$t_up" "$t_q") s after up returned)"

	# A consumer stops: the other takes its partitions.
	log "cluster: stopping consumer-1"
	local t_stop code
	t_stop=$(date +%s.%N)
	compose "${CLUSTER_FILES[@]}" stop consumer-1 >/dev/null 2>&1 || die "cluster: stop consumer-1 failed"
	code=$(podman inspect --format '{{.State.ExitCode}}' "$project-consumer-1-1")
	log "cluster: consumer-1 stopped in $(elapsed "$t_stop" "$(date +%s.%N)") s, exit code $code"
	if [[ $code != 0 ]]; then
		podman logs --tail 20 "$project-consumer-1-1" >&2
		die "cluster: consumer-1 did not finish its stop by itself (exit code $code): killed at the end of the stop timeout"
	fi
	since=$(date +%s)
	wait_newer "after consumer-1 stopped" "$since"
	log "cluster: quotes go on with consumer-2 alone"

	# The master of the quote's slot stops: its replica takes over.
	local master
	master=$(key_master) || die "cluster: no master answers for $QUOTE_KEY"
	log "cluster: stopping $master, master of $QUOTE_KEY's slot"
	compose "${CLUSTER_FILES[@]}" stop "$master" >/dev/null 2>&1 || die "cluster: stop $master failed"
	stopped_node=$master
	since=$(date +%s)
	# The worst moment for the last consumer: SIGKILL while the quote's slot
	# has no master, with what it read and could not write only in its spool
	# (Kafka has its offsets already). Started again, it must replay that.
	# Two more scrapes first, so that it holds prices it could not write.
	local served0 deadline
	served0=$(grep -c '"status":200' "$RUN/served-$project.jsonl" || true)
	deadline=$((SECONDS + 60))
	until (($(grep -c '"status":200' "$RUN/served-$project.jsonl" || true) >= served0 + 2)); do
		((SECONDS < deadline)) || die "cluster: no scrapes after $master stopped"
		sleep 0.2
	done
	log "cluster: SIGKILL of consumer-2 while $master is down"
	compose "${CLUSTER_FILES[@]}" kill -s SIGKILL consumer-2 >/dev/null 2>&1 || die "cluster: kill consumer-2 failed"
	compose "${CLUSTER_FILES[@]}" start consumer-2 >/dev/null 2>&1 || die "cluster: start consumer-2 failed"
	wait_newer "after $master stopped and consumer-2 was killed" "$since"
	log "cluster: consumer-2 after the SIGKILL: $(podman logs "$project-consumer-2-1" 2>&1 | grep -o 'replaying.*' | tail -n1 || echo 'nothing to replay (its spool was empty)')"
	log "cluster: quotes go on after the failover (master now $(key_master || echo '?'))"

	# Both come back.
	compose "${CLUSTER_FILES[@]}" start "$master" consumer-1 >/dev/null 2>&1 || die "cluster: start $master consumer-1 failed"
	stopped_node=
	since=$(date +%s)
	wait_newer "after $master and consumer-1 started again" "$since"

	stop_replay
	wait_matching cluster_quote "$RUN/served-$project.jsonl" cluster

	compose "${CLUSTER_FILES[@]}" down -v --remove-orphans >"$RUN/cluster-down.log" 2>&1 || {
		cat "$RUN/cluster-down.log" >&2
		die "cluster: compose down failed"
	}
	check_down "$project" "$RUN/before-$1"
	projects=("${projects[@]/cluster/}")
}

# One line, read whole before it runs: an edit of this file during a run
# cannot change what the run does next.
main "$@"; exit
