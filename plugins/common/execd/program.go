package execd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/telegraf-redis/telegraf-redis/plugins/common/config"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/logger"
	"github.com/telegraf-redis/telegraf-redis/plugins/common/version"
)

// Plugin is what a program runs: one Telegraf plugin table's options, its
// documented sample and the check of its options.
type Plugin interface {
	SampleConfig() string
	Init() error
}

// Program is what both of our execd programs share: the flags every one
// has (-config, -debug, -version, -sample-config, -cpuprofile), the
// logger, loading the plugin's table from the config file, the CPU
// profile and the signals that stop it. A main defines its own flags on
// flag.CommandLine, calls execd.Parse, then Start.
type Program struct {
	name, kind, table string

	configPath *string
	debug      *bool
	showVer    *bool
	sample     *bool
	cpuProfile *string

	// Log is the program's logger, at debug level with -debug once Start
	// has run.
	Log *logger.Logger

	stopProfile func()
}

// New defines the common flags for the program name (redis-output) whose
// config file holds one [[kind.table]] (outputs, redis).
func New(name, kind, table string) *Program {
	return &Program{
		name:       name,
		kind:       kind,
		table:      table,
		configPath: flag.String("config", "", fmt.Sprintf("path to the plugin's TOML config (one [[%s.%s]] table)", kind, table)),
		debug:      flag.Bool("debug", false, "log debug messages"),
		showVer:    flag.Bool("version", false, "print the version and exit"),
		sample:     flag.Bool("sample-config", false, "print the documented sample config and exit"),
		cpuProfile: flag.String("cpuprofile", "", "write a CPU profile (pprof) to this file"),
		Log:        logger.New(kind + "." + table),
	}
}

// ConfigPath is the -config flag's value.
func (p *Program) ConfigPath() string { return *p.configPath }

// Parse parses the command line into the flags defined on
// flag.CommandLine, as flag.Parse does, but returns where flag.Parse would
// exit, so that main alone ends the program. With done true the program
// exits with code: 0 after -h or -help, 2 after a bad flag (flag has
// printed the error and the usage, as flag.Parse does).
func Parse() (code int, done bool) {
	flag.CommandLine.Init(flag.CommandLine.Name(), flag.ContinueOnError)
	switch err := flag.CommandLine.Parse(os.Args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	case err != nil:
		return 2, true
	}
	return 0, false
}

// Start runs after Parse: it answers -version and -sample-config,
// refuses stray arguments, loads the plugin's table and checks it, and
// starts the CPU profile. With done true the program exits with code
// (0 after -version or -sample-config, else an error, already logged).
// Set the plugin's logger to p.Log before calling it: Init may log.
func (p *Program) Start(plugin Plugin) (code int, done bool) {
	p.Log.SetDebug(*p.debug)
	p.Log.RouteStdLog()
	switch {
	case *p.showVer:
		fmt.Println(version.String(p.name))
		return 0, true
	case *p.sample:
		fmt.Print(plugin.SampleConfig())
		return 0, true
	case flag.NArg() > 0:
		p.Log.Errorf("unexpected arguments %q", flag.Args())
		return 2, true
	}
	if *p.configPath != "" {
		if err := config.Load(*p.configPath, p.kind, p.table, plugin); err != nil {
			p.Log.Errorf("%v", err)
			return 1, true
		}
	}
	if err := plugin.Init(); err != nil {
		p.Log.Errorf("%v", config.WithLine(*p.configPath, err))
		return 1, true
	}
	if *p.cpuProfile != "" {
		stop, err := CPUProfile(*p.cpuProfile)
		if err != nil {
			p.Log.Errorf("-cpuprofile: %v", err)
			return 1, true
		}
		p.stopProfile = stop
	}
	return 0, false
}

// Signals returns a context that ends at SIGTERM (Telegraf's stop) or
// SIGINT, and the function that releases it.
func (*Program) Signals() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// Close ends what Start began (the CPU profile). Call it before CloseStdio.
func (p *Program) Close() {
	if p.stopProfile != nil {
		p.stopProfile()
		p.stopProfile = nil
	}
}

// Version is the program's version line, for a debug line at start.
func (p *Program) Version() string { return version.String(p.name) }
