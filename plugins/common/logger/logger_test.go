package logger

import (
	"bytes"
	"log"
	"strings"
	"testing"
)

func TestInfoWriterTakesInfoAndDebugOnly(t *testing.T) {
	var errs, info bytes.Buffer
	l := NewWriter(&errs, "outputs.redis")
	l.SetInfoWriter(&info)
	l.SetDebug(true)
	l.Errorf("e %d", 1)
	l.Warnf("w")
	l.Infof("i")
	l.Debugf("d")
	if got, want := errs.String(), "E! [outputs.redis] e 1\nW! [outputs.redis] w\n"; got != want {
		t.Errorf("main destination %q, want %q", got, want)
	}
	// [[outputs.execd]] tags stdout lines "I!" itself.
	if got, want := info.String(), "[outputs.redis] i\nD! [outputs.redis] d\n"; got != want {
		t.Errorf("info destination %q, want %q", got, want)
	}
}

// Hostile: debug lines stay off without -debug, and nothing but errors
// and warnings reaches the main destination whatever the message holds.
func TestInfoWriterHostile(t *testing.T) {
	var errs, info bytes.Buffer
	l := NewWriter(&errs, "p")
	l.SetInfoWriter(&info)
	l.Debugf("hidden")
	l.Infof("two\nlines\n")
	if errs.Len() != 0 || info.String() != "[p] two lines\n" {
		t.Fatalf("errors %q, info %q", errs.String(), info.String())
	}
}

func TestLongLinesAreCut(t *testing.T) {
	var errs bytes.Buffer
	l := NewWriter(&errs, "p")
	l.Errorf("%s", strings.Repeat("x", 1<<20))
	line := errs.String()
	if len(line) > MaxLine+100 || strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "... (cut)\n") {
		t.Fatalf("a %d-byte line", len(line))
	}
}

// Telegraf's own packages log through the standard logger with their
// level in front: each line goes where its level goes.
func TestStdWriterRoutesByLevel(t *testing.T) {
	var errs, info bytes.Buffer
	l := NewWriter(&errs, "p")
	l.SetInfoWriter(&info)
	std := log.New(l.StdWriter(), "", 0)
	std.Print("D! [serializers.json] dropped NaN") // debug off: dropped
	std.Print("W! Secret contains invalid character(s)")
	std.Print("I! [x] fine")
	std.Print("no level at all")
	if got, want := errs.String(), "W! Secret contains invalid character(s)\nE! no level at all\n"; got != want {
		t.Errorf("main destination %q, want %q", got, want)
	}
	if got, want := info.String(), "[x] fine\n"; got != want {
		t.Errorf("info destination %q, want %q", got, want)
	}
}
