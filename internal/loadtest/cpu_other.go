//go:build !unix

package loadtest

import "time"

// processCPU is unknown on systems without getrusage.
func processCPU() (time.Duration, bool) { return 0, false }
