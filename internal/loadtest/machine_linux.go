package loadtest

import "os"

// readMachine reads /proc/stat.
func readMachine() machineReading {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return machineReading{}
	}
	defer f.Close()
	return parseProcStat(f)
}
