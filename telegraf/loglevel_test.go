package telegraf

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// errorLine is a line Telegraf logged at error level.
var errorLine = regexp.MustCompile(`(?m)^\S+ E! .*$`)

func errorLines(log string) []string { return errorLine.FindAllString(log, -1) }

// TestTelegrafLogsErrorsOnlyForRealProblemsIntegration runs the consumer Telegraf
// with the configs of this directory (redis-output under
// [[outputs.execd]], which logs every stderr line of ours as an error):
// first a normal run, start, prices flowing, stop, which logs no error at
// all; then a run through a Redis outage, which logs exactly one, the
// outage's own line. The outage's end, the exit summary and the start are
// logged at info level.
func TestTelegrafLogsErrorsOnlyForRealProblemsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("Skipping integration test in short mode")
	}
	p := newPipeline(t, 1, "13")
	defer p.watch.stop()
	scraper := p.startTelegraf("scraper", "scraper.conf")

	// A normal run: prices reach Redis, the consumer stops; no error.
	consumer := p.startTelegraf("consumer-normal", "consumer.conf", "KAFKA_CONSUMER_GROUP=log-levels-normal")
	steps := p.waitForSteps(3)
	p.latency(steps[len(steps)-1])
	if err := consumer.Stop(15 * time.Second); err != nil {
		t.Fatalf("consumer: %v", err)
	}
	log := consumer.Output()
	if errs := errorLines(log); len(errs) > 0 {
		t.Fatalf("errors logged in a normal run:\n%s\n--- whole log:\n%s", strings.Join(errs, "\n"), log)
	}
	if !strings.Contains(log, "I! [outputs.execd] [outputs.redis] read ") {
		t.Errorf("no exit summary at info level:\n%s", log)
	}
	t.Logf("the consumer Telegraf's log of a normal run:\n%s", log)

	// Redis goes away while prices come: one error says so.
	consumer = p.startTelegraf("consumer-outage", "consumer.conf", "KAFKA_CONSUMER_GROUP=log-levels-outage")
	steps = p.waitForSteps(len(steps) + 2)
	p.latency(steps[len(steps)-1])
	p.redis.Kill()
	p.watch.pause()
	waitFor(t, 30*time.Second, "the outage in Telegraf's log", func() bool {
		return strings.Contains(consumer.Output(), "is unavailable")
	})
	p.redis.Restart()
	p.watch.resume()
	steps = p.waitForSteps(len(steps) + 2)
	p.latency(steps[len(steps)-1])
	waitFor(t, 10*time.Second, "the outage's end in Telegraf's log", func() bool {
		return strings.Contains(consumer.Output(), "is back after")
	})

	// A normal stop.
	if err := scraper.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	steps = p.servedOK()
	p.latency(steps[len(steps)-1])
	if err := consumer.Stop(15 * time.Second); err != nil {
		t.Fatalf("consumer: %v", err)
	}

	log = consumer.Output()
	errs := errorLines(log)
	if len(errs) != 1 || !strings.Contains(errs[0], "E! [outputs.execd] stderr: W! [outputs.redis] Redis at "+p.redis.Addr+" is unavailable") {
		t.Fatalf("want exactly one error, the outage's; got %d:\n%s\n--- whole log:\n%s", len(errs), strings.Join(errs, "\n"), log)
	}
	for _, want := range []string{
		"I! [outputs.execd] [outputs.redis] Redis at " + p.redis.Addr + " is back after",
		"I! [outputs.execd] [outputs.redis] read ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("no info line %q in the log:\n%s", want, log)
		}
	}
	t.Logf("the consumer Telegraf's log through a Redis outage:\n%s", log)
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
