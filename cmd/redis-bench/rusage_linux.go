package main

import (
	"os"
	"syscall"
)

func sysRusage(ps *os.ProcessState) (*syscall.Rusage, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	return ru, ok
}
