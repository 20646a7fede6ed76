package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/telegraf-redis/telegraf-redis/plugins/testutil/redistest"
)

var binary string

// TestMain builds the command once; the tests run it as Telegraf would.
func TestMain(m *testing.M) {
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

func TestConfigErrorsNameTheOptionAndLine(t *testing.T) {
	cases := map[string]string{
		"[[outputs.redis]]\n  address = \"127.0.0.1:1\"\n  adress = \"x\"\n": `line 3: unknown option "adress" in [[outputs.redis]]`,
		"[[outputs.redis]]\n\n  database = \"zero\"\n":                       `line 3: option "database": incompatible types`,
		"[[outputs.redis]]\n  timeout = \"5 parsecs\"\n":                     `line 2: option "timeout"`,
		"[[outputs.redis]]\n  data_format = \"csv\"\n":                       `option data_format: "csv" is not supported`,
		"[[outputs.redis]]\n[[outputs.redis]]\n":                             "2 [[outputs.redis]] tables",
		"[[inputs.redis]]\n":                                                 "unexpected table [[inputs.redis]]",
		"[[outputs.redis]]\n  address = \"${TR_MISSING_ADDR:?set it}\"\n":    "environment variable TR_MISSING_ADDR is required",
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

func TestEnvironmentSubstitutionAndSIGTERMFlush(t *testing.T) {
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
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	fmt.Fprintln(stdin, `{"fields":{"fields_bitcoin_eur":1.5e-5},"name":"kafka_consumer","tags":{},"timestamp":1795552004}`)
	fmt.Fprintln(stdin, `kafka_consumer fields_bitcoin_eur=1 1`) // line protocol in a json stream: refused
	time.Sleep(300 * time.Millisecond)
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
	log := stderr.String()
	if !strings.Contains(log, "E! [outputs.redis] line 2: invalid JSON at byte 1") ||
		!strings.Contains(log, "I! [outputs.redis] read 2 lines, 1 metrics; wrote 1 metrics in 1 updates; rejected 1 lines") {
		t.Fatalf("stderr:\n%s", log)
	}
}

func TestEndOfInputFlushesAndExitsZero(t *testing.T) {
	srv := redistest.Start(t)
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n  data_format = \"influx\"\n")
	cmd := exec.Command(binary, "-config", conf)
	cmd.Stdin = strings.NewReader("kafka_consumer,topic_currency_rate=currency.rate fields_bitcoin_usd=97234.12,fields_ethereum_usd=3391.45 1795552004000000000\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, _ := redis.String(srv.Conn().Do("GET", "coingecko:rate:usd"))
	want := `{"timestamp":1795552004,"quote":"usd","prices":[{"id":"bitcoin","price":"97234.12"},{"id":"ethereum","price":"3391.45"}]}`
	if got != want {
		t.Fatalf("got %s", got)
	}
}

func TestDryRunConnectsToNothing(t *testing.T) {
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
		`\{coingecko:rate:usd\}:prices:times \{coingecko:rate:usd\}:prices:meta "\\"usd\\"" 0 "" 9 \d{20} \d{20} "" "" 0 bitcoin 01795552004000000000 97234.12\n$`)
	if !want.MatchString(stdout.String()) {
		t.Fatalf("stdout %q", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "s3cret-pw") {
		t.Fatal("the password was printed")
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "-version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "redis-output ") || !strings.Contains(string(out), "telegraf v1.") {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestWrongPasswordIsNeverPrinted: the password does not appear in any
// log line, whatever fails.
func TestWrongPasswordIsNeverPrinted(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "the-right-one")
	const secret = "Wr0ng-but-S3cret"
	conf := writeConfig(t, "[[outputs.redis]]\n  address = \""+srv.Addr+"\"\n  password = \"${TR_PW}\"\n  timeout = \"300ms\"\n")
	cmd := exec.Command(binary, "-config", conf, "-debug")
	cmd.Env = append(os.Environ(), "TR_PW="+secret)
	stdin, _ := cmd.StdinPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, `{"fields":{"fields_bitcoin_usd":1},"name":"m","tags":{},"timestamp":1795552004}`)
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	log := stderr.String()
	if !strings.Contains(log, "E! [outputs.redis] Redis at "+srv.Addr+" refused the write") || !strings.Contains(log, "WRONGPASS") {
		t.Fatalf("no clear error:\n%s", log)
	}
	if strings.Contains(log, secret) {
		t.Fatalf("the password was printed:\n%s", log)
	}
}
