//go:build tools

// Package telegraf pins the Telegraf command so `make telegraf` builds it from
// the exact module version in go.mod (go mod tidy keeps its dependencies).
package telegraf

import _ "github.com/influxdata/telegraf/cmd/telegraf"
