//go:build !linux

package loadtest

// readMachine knows nothing outside Linux.
func readMachine() machineReading { return machineReading{} }
