//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// peakRSS is the finished process's peak resident set in bytes (getrusage's
// ru_maxrss: KiB on Linux, bytes on macOS), 0 when the platform does not say.
func peakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss
	}
	return ru.Maxrss * 1024
}
