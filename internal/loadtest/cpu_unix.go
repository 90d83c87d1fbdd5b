//go:build unix

package loadtest

import (
	"syscall"
	"time"
)

// readGenerator reads this process's CPU time, user and system.
func readGenerator() generatorReading {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return generatorReading{}
	}
	return generatorReading{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), known: true}
}
