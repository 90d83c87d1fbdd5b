package loadtest

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// machineReading is the whole machine's processor time at a moment, from
// Linux's /proc/stat: every process's, the store's database server's and
// the kernel's included, which is what a rate costs when the store, its
// database and the load generator share the machine.
type machineReading struct {
	// busy and total are in ticks of 1/userHZ s, summed over all CPUs.
	busy, total int64
	known       bool
}

// since is the busy time and the share of all processor time it was
// between an earlier reading and r; ok is false unless both are known
// and time went forward by less than a year of a hundred CPUs (more
// would overflow a Duration).
func (r machineReading) since(earlier machineReading) (busy time.Duration, share float64, ok bool) {
	total := r.total - earlier.total
	if !r.known || !earlier.known || total <= 0 || total > 100*365*24*3600*userHZ {
		return 0, 0, false
	}
	b := min(max(r.busy-earlier.busy, 0), total)
	return time.Duration(b) * (time.Second / userHZ), float64(b) / float64(total), true
}

// userHZ is the unit of /proc/stat's times: Linux fixes it at 100 a
// second for every program to read.
const userHZ = 100

// parseProcStat reads the machine's line ("cpu  user nice system idle
// iowait irq softirq steal ...") off /proc/stat. Busy is user, nice,
// system, irq and softirq; total adds idle, iowait and steal (time the
// hypervisor gave to others), so that busy/total is the share of the
// machine this machine's work took.
func parseProcStat(r io.Reader) machineReading {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var v [8]int64
		for i := range v {
			n, err := strconv.ParseInt(fields[i+1], 10, 64)
			if err != nil || n < 0 || n > 1<<53 {
				return machineReading{}
			}
			v[i] = n
		}
		busy := v[0] + v[1] + v[2] + v[5] + v[6]
		return machineReading{busy: busy, total: busy + v[3] + v[4] + v[7], known: true}
	}
	return machineReading{}
}
