// Package logger writes log lines the way Telegraf reads them from an execd
// plugin's stderr: one line per message, starting with the level prefix
// ("E! ", "W! ", "I! ", "D! ") and no timestamp, because Telegraf adds its own
// and maps the level only when the line starts with the prefix.
//
// [[inputs.execd]] maps those prefixes to its own levels; [[outputs.execd]]
// logs every stderr line as an error and every stdout line at info level.
// So an output plugin sends its info and debug lines to stdout (see
// SetInfoWriter): they then reach Telegraf's log at info level, and only
// warnings and errors, real problems, are logged as errors.
package logger

import (
	"fmt"
	"io"
	stdlog "log"
	"os"
	"strings"
	"sync"

	"github.com/influxdata/telegraf"
)

// Logger implements telegraf.Logger, so it can be handed to Telegraf's own
// parsers and serializers as well as used by our plugins.
type Logger struct {
	mu     sync.Mutex
	out    io.Writer
	info   io.Writer // info, debug and trace lines; nil: out
	prefix string    // "[outputs.redis] "
	level  telegraf.LogLevel
}

// MaxLine bounds one log line. Telegraf reads an execd plugin's stderr and
// stdout with a 64 KiB line scanner that stops reading for good at a longer
// line; the plugin's next writes would then block once the pipe is full.
const MaxLine = 8 << 10

// New returns a logger for the plugin named like "outputs.redis" writing to
// stderr at info level.
func New(plugin string) *Logger {
	return NewWriter(os.Stderr, plugin)
}

// NewWriter is New with another destination, for tests.
func NewWriter(w io.Writer, plugin string) *Logger {
	p := ""
	if plugin != "" {
		p = "[" + plugin + "] "
	}
	return &Logger{out: w, prefix: p, level: telegraf.Info}
}

// SetDebug turns debug (and trace) messages on or off.
func (l *Logger) SetDebug(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.level = telegraf.Trace
	} else {
		l.level = telegraf.Info
	}
}

// SetInfoWriter sends info, debug and trace lines to w instead of the
// main destination; nil sends them back. Info lines lose their "I! " tag
// there: [[outputs.execd]] logs each stdout line at info level with its own
// tag, so "I! [outputs.execd] [outputs.redis] ..." reads right; debug and
// trace lines keep theirs.
func (l *Logger) SetInfoWriter(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.info = w
}

// SetQuiet keeps only errors.
func (l *Logger) SetQuiet() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.level = telegraf.Error
}

func (l *Logger) Level() telegraf.LogLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}

// AddAttribute is part of telegraf.Logger; attributes are not printed.
func (*Logger) AddAttribute(string, interface{}) {}

func (l *Logger) write(level telegraf.LogLevel, tag, msg string) {
	l.emit(level, tag, l.prefix+msg)
}

// emit writes one line (its tag, then text) where its level goes.
func (l *Logger) emit(level telegraf.LogLevel, tag, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if level > l.level {
		return
	}
	// One message is one line: Telegraf treats each stderr line on its own.
	text = strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", " ")
	if len(text) > MaxLine {
		text = text[:MaxLine] + "... (cut)"
	}
	out := l.out
	if level > telegraf.Warn && l.info != nil {
		out = l.info
		if level == telegraf.Info {
			tag = ""
		}
	}
	io.WriteString(out, tag+text+"\n") //nolint:errcheck // a log line that cannot be written has nowhere else to go
}

// StdWriter is a writer for the standard library's logger (log.SetOutput),
// which Telegraf's own packages (serializers, secrets) log through with
// their own prefixes such as "D! [serializers.json] ...": each line goes
// where its level goes; a line without a level is an error.
func (l *Logger) StdWriter() io.Writer { return stdWriter{l} }

// RouteStdLog makes the standard logger write bare lines to StdWriter,
// which routes each line by its level. Telegraf's own packages (serializers
// dropping NaN fields, say) log through it with a level prefix such as
// "D! "; with the standard date in front, Telegraf would not see the level
// and log them as errors.
func (l *Logger) RouteStdLog() {
	stdlog.SetFlags(0)
	stdlog.SetOutput(l.StdWriter())
}

type stdWriter struct{ l *Logger }

func (w stdWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level, tag, text := telegraf.Error, "E! ", line
		for _, t := range levelTags {
			if strings.HasPrefix(line, t.tag) {
				level, tag, text = t.level, t.tag, line[len(t.tag):]
				break
			}
		}
		w.l.emit(level, tag, text)
	}
	return len(p), nil
}

var levelTags = []struct {
	tag   string
	level telegraf.LogLevel
}{
	{"E! ", telegraf.Error}, {"W! ", telegraf.Warn}, {"I! ", telegraf.Info},
	{"D! ", telegraf.Debug}, {"T! ", telegraf.Trace},
}

func (l *Logger) Errorf(format string, args ...interface{}) {
	l.write(telegraf.Error, "E! ", fmt.Sprintf(format, args...))
}
func (l *Logger) Error(args ...interface{}) { l.write(telegraf.Error, "E! ", fmt.Sprint(args...)) }
func (l *Logger) Warnf(format string, args ...interface{}) {
	l.write(telegraf.Warn, "W! ", fmt.Sprintf(format, args...))
}
func (l *Logger) Warn(args ...interface{}) { l.write(telegraf.Warn, "W! ", fmt.Sprint(args...)) }
func (l *Logger) Infof(format string, args ...interface{}) {
	l.write(telegraf.Info, "I! ", fmt.Sprintf(format, args...))
}
func (l *Logger) Info(args ...interface{}) { l.write(telegraf.Info, "I! ", fmt.Sprint(args...)) }
func (l *Logger) Debugf(format string, args ...interface{}) {
	l.write(telegraf.Debug, "D! ", fmt.Sprintf(format, args...))
}
func (l *Logger) Debug(args ...interface{}) { l.write(telegraf.Debug, "D! ", fmt.Sprint(args...)) }
func (l *Logger) Tracef(format string, args ...interface{}) {
	l.write(telegraf.Trace, "T! ", fmt.Sprintf(format, args...))
}
func (l *Logger) Trace(args ...interface{}) { l.write(telegraf.Trace, "T! ", fmt.Sprint(args...)) }

var _ telegraf.Logger = (*Logger)(nil)

// Head is the start of data quoted in a log line: enough to recognise a
// bad line or entry, never a whole megabyte of it.
func Head(data []byte) []byte {
	if len(data) > 100 {
		return data[:100]
	}
	return data
}
