#!/usr/bin/env bash
# Builds the benchmark peer of `make bench-peers` once: Benthos at an exact
# version (MIT licence), with only its io, pure and redis components, in a
# module of its own under .cache/. It is never a dependency of the plugins.
set -euo pipefail
version=${1:?usage: benthos-peer.sh VERSION}
dir=.cache/benthos-$version
bin=$dir/benthos
if [ -x "$bin" ]; then
	exit 0
fi
mkdir -p "$dir"
cat >"$dir/go.mod" <<EOM
module benthospeer

go 1.22
EOM
cat >"$dir/main.go" <<'EOM'
// The benchmark peer of make bench-peers: Benthos with only its io, pure
// and redis components.
package main

import (
	"context"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	_ "github.com/benthosdev/benthos/v4/public/components/redis"
	"github.com/benthosdev/benthos/v4/public/service"
)

func main() {
	service.RunCLI(context.Background())
}
EOM
echo "benthos-peer.sh: building Benthos $version into $bin (about a minute, once)"
cd "$dir"
# The proxy does not list versions: ask for the exact one, then tidy.
GOWORK=off GOFLAGS=-mod=mod go get "github.com/benthosdev/benthos/v4@$version"
GOWORK=off GOFLAGS=-mod=mod go mod tidy
GOWORK=off go build -trimpath -o benthos.tmp .
mv benthos.tmp benthos
