package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/syncbuf"
)

var binary string

// TestMain builds the command once; the tests run it as Telegraf would.
func TestMain(m *testing.M) {
	flag.Parse()
	// Each test here runs the command as a process: an integration test,
	// skipped in short mode. Nothing is built then, and a test that forgot
	// its skip fails on this name, which is no executable.
	if testing.Short() {
		binary = "redis-output-not-built-under-short"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "redis-output-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "redis-output")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building redis-output: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "redis-output.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrorsNameTheOptionAndLineIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	cases := map[string]string{
		"[[outputs.redis]]\n  address = \"127.0.0.1:1\"\n  adress = \"x\"\n": `line 3: unknown option "adress" in [[outputs.redis]]`,
		"[[outputs.redis]]\n\n  database = \"zero\"\n":                       `line 3: option "database": cannot unmarshal TOML string into int`,
		"[[outputs.redis]]\n  timeout = \"5 parsecs\"\n":                     `line 2: option "timeout"`,
		"[[outputs.redis]]\n  mode = \"list\"\n  data_format = \"yaml\"\n":   `line 3: option "data_format": "yaml" is not a serializer of this program`,
		"[[outputs.redis]]\n[[outputs.redis]]\n":                             "2 [[outputs.redis]] tables",
		"[[inputs.redis]]\n":                                                 "unexpected table [[inputs.redis]]",
		"[[outputs.redis]]\n  address = \"${TR_MISSING_ADDR:?set it}\"\n":    "line 2: required variable TR_MISSING_ADDR is missing a value: set it",
		// Values that used to be bent or ignored (issue 11) are refused.
		"[[outputs.redis]]\n  timeout = \"-5s\"\n":                   `line 2: option timeout: -5s is negative`,
		"[[outputs.redis]]\n  mode = \"hash\"\n  timeout = \"0s\"\n": `line 3: option timeout: must be longer than 0s`,
		"[[outputs.redis]]\n  timestamp_units = \"7s\"\n":            `line 2: option timestamp_units: 7s is not a power of ten from 1ns to 1s`,
		"[[outputs.redis]]\n\n  timestamp_units = \"1h\"\n":          `line 3: option timestamp_units: 1h0m0s is not a power of ten`,
		"[[outputs.redis]]\n  json_timestamp_units = \"5ms\"\n":      `line 2: option json_timestamp_units: 5ms is not a power of ten`,
		"[[outputs.redis]]\n  address = \"127.0.0.1:70000\"\n": `line 2: option address: "127.0.0.1:70000": port "70000" is not a ` +
			`number from 1 to 65535`,
		"[[outputs.redis]]\n  mode = \"hash\"\n  quote = \"usd\"\n": `line 3: option quote: only read with mode = "quote"; here mode = "hash"`,
		"[[outputs.redis]]\n  mode = \"hash\"\n  stream_maxlen = 100\n": `line 3: option stream_maxlen: only read with mode = "stream"; here ` +
			`mode = "hash"`,
		"[[outputs.redis]]\n  address = \"redis://127.0.0.1/3\"\n  database = 0\n": `line 3: option database: 0, but the address says database 3`,
		"[[outputs.redis]]\n  mode = \"publish\"\n  expire = \"1h\"\n":             `line 3: option expire: only read with every mode but "publish"`,
		"[[outputs.redis]]\n  mode = \"list\"\n  key = \"t:{{.Nope}}\"\n": `line 3: option key: key template "t:{{.Nope}}": ".Nope" is not ` +
			`something a metric has`,
		"[[outputs.redis]]\n  mode = \"hash\"\n  data_format = \"json\"\n": `line 3: option data_format: names the serializer of publish, list, ` +
			`string and stream with payload_field, not read in hash mode`,
	}
	for text, want := range cases {
		cmd := exec.Command(binary, "-config", writeConfig(t, text))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil {
			t.Errorf("%q: started", text)
			continue
		}
		msg := stderr.String()
		if !strings.HasPrefix(msg, "E! ") || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) {
			t.Errorf("%q: stderr %q, want one E! line with %q", text, msg, want)
		}
	}
}

func TestEnvironmentSubstitutionAndSIGTERMFlushIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conf := writeConfig(t, `
[[outputs.redis]]
  address = "${TR_REDIS_ADDR}"
  key = "${TR_KEY:-rates:eur}"
  quote = "eur"
  flush_interval = "1h"   # only the stop writes
  publish = "${TR_CHANNEL-}"
`)
	cmd := exec.Command(binary, "-config", conf)
	cmd.Env = append(os.Environ(), "TR_REDIS_ADDR="+srv.Addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	var stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(t, cmd)
	fmt.Fprintln(stdin, `{"fields":{"fields_bitcoin_eur":1.5e-5},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`)
	fmt.Fprintln(stdin, `{"fields":{"fields_bitcoin_eur":},"name":"kafka_consumer","tags":{},"timestamp":1795552005}`)
	// Both lines read (the second is not JSON): the second one's error is out.
	waitUntil(t, "line 2 read", func() bool { return strings.Contains(stderr.String(), "E! [outputs.redis] line 2:") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	got, err := redis.String(srv.Conn().Do("GET", "rates:eur"))
	if err != nil || got != `{"timestamp":1795552004,"quote":"eur","prices":[{"id":"bitcoin","price":"0.000015"}]}` {
		t.Fatalf("stored %q (%v)\n%s", got, err, stderr.String())
	}
	// Errors on stderr ([[outputs.execd]] logs them as errors), the
	// summary on stdout (it logs that at info level).
	if log := stderr.String(); !strings.HasPrefix(log, "E! [outputs.redis] line 2: invalid JSON") || strings.Count(log, "\n") != 1 {
		t.Fatalf("stderr:\n%s", log)
	}
	info := stdout.String()
	if !strings.HasPrefix(info, "[outputs.redis] read 2 lines, 1 metrics; wrote 1 metrics in 1 updates; rejected 1 lines; quote: ") ||
		strings.Count(info, "\n") != 1 {
		t.Fatalf("stdout:\n%s", info)
	}
}

func TestEndOfInputFlushesAndExitsZeroIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t)
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n")
	cmd := exec.Command(binary, "-config", conf)
	cmd.Stdin = strings.NewReader("kafka_consumer,topic_currency_rate=currency.rate " +
		"fields_bitcoin_usd=97234.12,fields_ethereum_usd=3391.45 1795552004000000000\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, err := redis.String(srv.Conn().Do("GET", "coingecko:rate:usd"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},{"id":"ethereum","price":"3391.45"}]}`
	if got != want {
		t.Fatalf("got %s", got)
	}
}

func TestDryRunConnectsToNothingIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \"127.0.0.1:1\"\n  password = \"s3cret-pw\"\n")
	cmd := exec.Command(binary, "-config", conf, "-test")
	cmd.Stdin = strings.NewReader(`{"fields":{"fields_bitcoin_usd":97234.12},"name":"kafka_consumer","tags":{},"timestamp":1795552004}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	// The keys, the options (the clock and the future limit vary), then
	// each coin: id, time in ns, price.
	want := regexp.MustCompile(`^EVALSHA [0-9a-f]{40} 5 coingecko:rate:usd \{coingecko:rate:usd\}:prices \{coingecko:rate:usd\}:prices:ids ` +
		`\{coingecko:rate:usd\}:prices:times \{coingecko:rate:usd\}:prices:meta "\\"usd\\"" 0 "" 9 \d{20} \d{20} "" "" 0 ` +
		`bitcoin 01795552004000000000 97234.12\n$`)
	if !want.MatchString(stdout.String()) {
		t.Fatalf("stdout %q", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "s3cret-pw") {
		t.Fatal("the password was printed")
	}
}

// TestURLPasswordIsNeverPrintedIntegration: a password given in the address URL is
// used, and shown nowhere: not by -test, not in a refused config, not in
// the logs of a run whose password is wrong.
func TestURLPasswordIsNeverPrintedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	const secret = "Url-S3cret-pw"
	srv := redistest.Start(t, "--requirepass", "the-right-one")
	line := `{"fields":{"fields_bitcoin_usd":1},"name":"m","tags":{},"timestamp":1795552004}` + "\n"
	run := func(conf string, args ...string) string {
		cmd := exec.Command(binary, append([]string{"-config", writeConfig(t, conf), "-debug"}, args...)...)
		cmd.Stdin = strings.NewReader(line)
		out := output(t, cmd)
		if strings.Contains(string(out), secret) {
			t.Fatalf("the password was printed:\n%s", out)
		}
		return string(out)
	}
	// -test
	out := run("[[outputs.redis]]\n  address = \"redis://:"+secret+"@127.0.0.1:1/3\"\n", "-test")
	if !strings.Contains(out, "EVALSHA") {
		t.Fatalf("-test:\n%s", out)
	}
	// Refused configs: a conflict, a bad URL.
	out = run("[[outputs.redis]]\n  address = \"redis://:" + secret + "@127.0.0.1:1\"\n  password = \"other\"\n")
	if !strings.Contains(out, "option password: set, and different from the password in the address") {
		t.Fatalf("conflict:\n%s", out)
	}
	out = run("[[outputs.redis]]\n  address = \"redis://:" + secret + "%zz@127.0.0.1:1\"\n")
	if !strings.Contains(out, `option address: "redis://:xxxxx@127.0.0.1:1" is not a valid URL`) {
		t.Fatalf("bad URL:\n%s", out)
	}
	// A run with the wrong password: stdin ends, the write is retried
	// until the SIGTERM.
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \"redis://:"+secret+"@"+srv.Addr+"/2\"\n  timeout = \"300ms\"\n")
	cmd := exec.Command(binary, "-config", conf, "-debug")
	stdin := stdinPipe(t, cmd)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(t, cmd)
	fmt.Fprint(stdin, line)
	waitUntil(t, "the WRONGPASS error", func() bool { return strings.Contains(stderr.String(), "WRONGPASS") })
	signal(t, cmd, syscall.SIGTERM)
	exited(t, cmd)
	log := stderr.String()
	if !strings.Contains(log, "E! [outputs.redis] Redis at "+srv.Addr+" database 2 refused the write") || strings.Contains(log, secret) {
		t.Fatalf("log:\n%s", log)
	}
	// And the right password in the URL writes to the URL's database.
	cmd = exec.Command(binary, "-config", writeConfig(t, "[[outputs.redis]]\n  address = \"redis://:the-right-one@"+srv.Addr+"/2\"\n"))
	cmd.Stdin = strings.NewReader(line)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := srv.Conn()
	if _, err := c.Do("SELECT", 2); err != nil {
		t.Fatal(err)
	}
	if n, err := redis.Int(c.Do("EXISTS", "coingecko:rate:usd")); err != nil || n != 1 {
		t.Fatal("nothing in database 2")
	}
}

func TestVersionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	out, err := exec.Command(binary, "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "redis-output ") || !strings.Contains(string(out), "telegraf v1.") {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestCommonFlagsIntegration: what both programs share (plugins/common/execd): the
// sample config, stray arguments refused, a config error with its line,
// and a CPU profile written by a run that ends.
func TestCommonFlagsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	out, err := exec.Command(binary, "-sample-config").Output()
	if err != nil || !strings.Contains(string(out), "[[outputs.redis]]") {
		t.Fatalf("-sample-config: %v: %.200s", err, out)
	}
	cmd := exec.Command(binary, "stray")
	out = output(t, cmd)
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), `E! [outputs.redis] unexpected arguments ["stray"]`) {
		t.Fatalf("stray argument: rc %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	// A flag it does not know: the error and the usage, code 2; -h: the
	// usage, code 0 (as flag.Parse exits).
	cmd = exec.Command(binary, "-bogus")
	out = output(t, cmd)
	if cmd.ProcessState.ExitCode() != 2 || !strings.HasPrefix(string(out), "flag provided but not defined: -bogus\nUsage of ") ||
		!strings.Contains(string(out), "-sample-config") {
		t.Fatalf("unknown flag: rc %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	cmd = exec.Command(binary, "-h")
	out = output(t, cmd)
	if cmd.ProcessState.ExitCode() != 0 || !strings.HasPrefix(string(out), "Usage of ") || !strings.Contains(string(out), "-log_info") {
		t.Fatalf("-h: rc %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	conf := writeConfig(t, "[[outputs.redis]]\n  mode = \"quote\"\n  mode_typo = 1\n")
	cmd = exec.Command(binary, "-config", conf)
	out = output(t, cmd)
	if cmd.ProcessState.ExitCode() != 1 || !strings.HasPrefix(string(out), "E! ") || !strings.Contains(string(out), "mode_typo") {
		t.Fatalf("bad option: rc %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	profile := filepath.Join(t.TempDir(), "cpu.prof")
	cmd = exec.Command(binary, "-test", "-cpuprofile", profile)
	cmd.Stdin = strings.NewReader(`{"fields":{"fields_bitcoin_usd":1},"name":"m","tags":{},"timestamp":1795552004}` + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("-test -cpuprofile: %v: %s", err, out)
	}
	if st, err := os.Stat(profile); err != nil || st.Size() == 0 {
		t.Fatalf("no CPU profile written: %v", err)
	}
}

// TestWrongPasswordIsNeverPrintedIntegration: the password does not appear in any
// log line, whatever fails.
func TestWrongPasswordIsNeverPrintedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	srv := redistest.Start(t, "--requirepass", "the-right-one")
	const secret = "Wr0ng-but-S3cret"
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n  password = \"${TR_PW}\"\n  timeout = \"300ms\"\n")
	cmd := exec.Command(binary, "-config", conf, "-debug")
	cmd.Env = append(os.Environ(), "TR_PW="+secret)
	stdin := stdinPipe(t, cmd)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stop(t, cmd) // also when the wait below fails the test
	fmt.Fprintln(stdin, `{"fields":{"fields_bitcoin_usd":1},"name":"m","tags":{},"timestamp":1795552004}`)
	waitUntil(t, "the refused write", func() bool { return strings.Contains(stderr.String(), "WRONGPASS") })
	signal(t, cmd, syscall.SIGTERM)
	exited(t, cmd)
	log := stderr.String()
	if !strings.Contains(log, "E! [outputs.redis] Redis at "+srv.Addr+" refused the write") || !strings.Contains(log, "WRONGPASS") {
		t.Fatalf("no clear error:\n%s", log)
	}
	if strings.Contains(log, secret) {
		t.Fatalf("the password was printed:\n%s", log)
	}
}

// TestRenamedOptionsAreRefusedWithTheNewNameIntegration: a config written for an
// earlier version stops the plugin with one line that says what to write
// instead (the upgrade note in README.md lists them).
func TestRenamedOptionsAreRefusedWithTheNewNameIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	cases := map[string]string{
		// data_format_out is now data_format, the serializer.
		"[[outputs.redis]]\n  mode = \"publish\"\n  data_format_out = \"json\"\n": `line 3: option data_format_out: renamed data_format`,
		// data_format used to name what [[outputs.execd]] writes (the old
		// telegraf/redis-output.conf): now detected on each line.
		"[[outputs.redis]]\n  data_format = \"json\"\n": `line 2: option data_format: names the serializer of publish, list, string and stream with ` +
			`payload_field, not read in quote mode`,
	}
	for text, want := range cases {
		cmd := exec.Command(binary, "-config", writeConfig(t, text))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Errorf("%q: started", text)
			continue
		}
		if msg := stderr.String(); !strings.HasPrefix(msg, "E! ") || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, want) {
			t.Errorf("%q: stderr %q, want one E! line with %q", text, msg, want)
		}
	}
}
