// Package execd holds what a program run by Telegraf's execd plugins needs
// to behave well at its edges: how it ends.
package execd

import (
	"os"
	"runtime/pprof"
	"time"
)

// CloseStdio closes stdout and stderr and waits a moment: main calls it
// just before os.Exit. Telegraf (internal/process) reads them while its exec.Cmd.Wait
// waits for us, and Wait closes its ends of the pipes as soon as we are
// gone: a reader that has not yet seen the end of the pipe then fails, and
// Telegraf logs "E! ... read |0: file already closed" at every stop.
// Closed first, the pipes end cleanly while we still run.
func CloseStdio() {
	_ = os.Stdout.Close()
	_ = os.Stderr.Close()
	time.Sleep(100 * time.Millisecond)
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
