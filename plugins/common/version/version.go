// Package version names the build, for -version and the start-up log line.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X .../version.Version=v1.2.3";
// without it the module's VCS information is used when there is any.
var Version = ""

// String is "name v1.2.3 (go1.26, telegraf v1.37.2, redigo v1.9.3)".
func String(name string) string {
	v := Version
	deps := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, d := range info.Deps {
			switch d.Path {
			case "github.com/influxdata/telegraf":
				deps += ", telegraf " + d.Version
			case "github.com/gomodule/redigo":
				deps += ", redigo " + d.Version
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	return fmt.Sprintf("%s %s (%s%s)", name, v, runtime.Version(), deps)
}
