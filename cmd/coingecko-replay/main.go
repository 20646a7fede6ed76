package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "E! coingecko-replay: %v\n", err)
		os.Exit(1)
	}
}

// run parses args, prints the bound address as the first line of stdout and
// serves until ctx is done (SIGINT or SIGTERM in main).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("coingecko-replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	record := fs.String("record", "", "directory of recorded simple/price responses (*.json, served in name order)")
	cycle := fs.Bool("cycle", false, "with -record: after the last response start again at the first (default: keep serving the last)")
	seed := fs.Int64("seed", 1, "random-walk seed (without -record)")
	ids := fs.String("ids", articleIDs, "random-walk coins: id (known start price) or id=price, comma separated")
	volatility := fs.Float64("volatility", 0.002, "random-walk standard deviation of the log price per step")
	failEvery := fs.Int("fail-every", 0, "answer HTTP 500 to every n-th /simple/price request (0: never)")
	rateLimit := fs.Int("rate-limit", 0, "answer 429 beyond n /api/v3 requests per rolling minute (0: unlimited)")
	apiKey := fs.String("x-cg-demo-api-key", "", "require this demo API key (header x-cg-demo-api-key or query x_cg_demo_api_key)")
	expBelow := fs.Float64("exp-below", 1e-6, "write prices smaller than this in exponent form (1.5e-09)")
	servedLogPath := fs.String("served-log", "", "append every /simple/price response to this file as a JSON line")
	logRequests := fs.Bool("log", false, "log every request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *failEvery < 0 || *rateLimit < 0 || !(*volatility >= 0) || !(*expBelow > 0) {
		return errors.New("-fail-every and -rate-limit must be >= 0, -volatility >= 0, -exp-below > 0")
	}

	src, err := newSource(fs, *record, *cycle, *seed, *ids, *volatility)
	if err != nil {
		return err
	}

	served := &servedLog{}
	if *servedLogPath != "" {
		f, err := os.OpenFile(*servedLogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		defer f.Close()
		served.w = f
	}

	opt := options{apiKey: *apiKey, failEvery: *failEvery, rateLimit: *rateLimit, expBelow: *expBelow}
	if *logRequests {
		logger := log.New(stderr, "", 0) // the level prefix starts the line, as Telegraf's execd expects
		opt.logf = logger.Printf
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	srv := &http.Server{Handler: newServer(src, served, opt).handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// newSource picks recorded responses (-record) or the random walk.
func newSource(fs *flag.FlagSet, record string, cycle bool, seed int64, ids string, volatility float64) (Source, error) {
	walkFlags := false
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "seed", "ids", "volatility":
			walkFlags = true
		}
	})
	if record != "" {
		if walkFlags {
			return nil, errors.New("-seed, -ids and -volatility are for the random walk; drop them or -record")
		}
		return loadRecorded(record, cycle)
	}
	if cycle {
		return nil, errors.New("-cycle needs -record")
	}
	coins, err := parseIDs(ids)
	if err != nil {
		return nil, err
	}
	return newWalk(seed, coins, volatility), nil
}
