// Package execd holds what a program run by Telegraf's execd plugins needs
// to behave well at its edges: how it ends.
package execd

import (
	"io"
	stdlog "log"
	"os"
	"runtime/pprof"
	"time"
)

// Exit ends the process with code, closing stdout and stderr a moment
// before. Telegraf (internal/process) reads them while its exec.Cmd.Wait
// waits for us, and Wait closes its ends of the pipes as soon as we are
// gone: a reader that has not yet seen the end of the pipe then fails, and
// Telegraf logs "E! ... read |0: file already closed" at every stop.
// Closed first, the pipes end cleanly while we still run.
func Exit(code int) {
	_ = os.Stdout.Close()
	_ = os.Stderr.Close()
	time.Sleep(100 * time.Millisecond)
	os.Exit(code)
}

// PlainStdLog makes the standard logger write bare lines to w (a
// logger.Logger's StdWriter, which routes each line by its level).
// Telegraf's own packages (serializers dropping NaN fields, say) log
// through it with a level prefix such as "D! "; with the standard date in
// front, Telegraf would not see the level and log them as errors.
func PlainStdLog(w io.Writer) {
	stdlog.SetFlags(0)
	stdlog.SetOutput(w)
}

// CPUProfile starts writing a CPU profile to path (the -cpuprofile flag);
// call the returned function before exiting.
func CPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
