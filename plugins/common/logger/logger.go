// Package logger writes log lines the way Telegraf reads them from an execd
// plugin's stderr: one line per message, starting with the level prefix
// ("E! ", "W! ", "I! ", "D! ") and no timestamp, because Telegraf adds its own
// and maps the level only when the line starts with the prefix.
package logger

import (
	"fmt"
	"io"
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
	prefix string // "[outputs.redis] "
	level  telegraf.LogLevel
}

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
	l.mu.Lock()
	defer l.mu.Unlock()
	if level > l.level {
		return
	}
	// One message is one line: Telegraf treats each stderr line on its own.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " ")
	_, _ = io.WriteString(l.out, tag+l.prefix+msg+"\n")
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
