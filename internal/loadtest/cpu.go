package loadtest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUStats is the processor time the run's two sides used during the
// load. Per complete checkout it says what a machine must give for a
// rate, which a rate measured on a shared machine does not.
type CPUStats struct {
	// Store adds up the targets' processes (not a database server running
	// in processes of its own, such as PostgreSQL); StoreKnown is false
	// when no target exports process_cpu_seconds_total.
	Store      time.Duration
	StoreKnown bool
	// Generator is this process, the load generator; GeneratorKnown is
	// false where the system does not tell.
	Generator      time.Duration
	GeneratorKnown bool
	// Machine is the busy processor time of the machine the load
	// generator runs on, every process and the kernel included, and
	// MachineShare its share of all that machine's processor time;
	// MachineKnown is false off Linux. When the store and its database
	// server share the machine, it is what the whole run cost, with
	// whatever else ran there.
	Machine      time.Duration
	MachineShare float64
	MachineKnown bool
	// Elapsed is the time the figures cover.
	Elapsed time.Duration
}

// generatorReading is the load generator's own CPU time at a moment
// (readGenerator, where the system tells).
type generatorReading struct {
	cpu   time.Duration
	known bool
}

// cpuStats is the CPU used between two readings of each side and of the
// machine; nil when none is known.
func cpuStats(before, after storeReading, genBefore, genAfter generatorReading, mBefore, mAfter machineReading) *CPUStats {
	c := &CPUStats{Elapsed: after.at.Sub(before.at)}
	c.Machine, c.MachineShare, c.MachineKnown = mAfter.since(mBefore)
	if before.cpu && after.cpu {
		c.StoreKnown = true
		c.Store = time.Duration(max(after.values[cpuCounter]-before.values[cpuCounter], 0) * float64(time.Second))
	}
	if genBefore.known && genAfter.known {
		c.GeneratorKnown = true
		c.Generator = max(genAfter.cpu-genBefore.cpu, 0)
	}
	if !c.StoreKnown && !c.GeneratorKnown && !c.MachineKnown {
		return nil
	}
	return c
}

// MachineCores is how many processors the machine had over the run: its
// processor time, busy or not, over the time elapsed; 0 when unknown.
func (c *CPUStats) MachineCores() float64 {
	if !c.MachineKnown || c.MachineShare <= 0 || c.Elapsed <= 0 {
		return 0
	}
	return c.Machine.Seconds() / c.MachineShare / c.Elapsed.Seconds()
}

// writeCPU reports c; checkouts, when above zero, are the run's complete
// checkouts, to give what each cost. withDatabase says that the store
// keeps its data inside its own process (SQLite), so that its figure is
// the whole server side.
func writeCPU(b *strings.Builder, c *CPUStats, checkouts uint64, withDatabase bool) {
	secs := c.Elapsed.Seconds()
	if secs <= 0 {
		return
	}
	var parts, each []string
	if c.StoreKnown {
		who := "store"
		if !withDatabase {
			who = "store (its database server not counted)"
		}
		parts = append(parts, fmt.Sprintf("%s %.2f s (%.2f cores)", who, c.Store.Seconds(), c.Store.Seconds()/secs))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of the store's", ms(c.Store)/float64(checkouts)))
		}
	}
	if c.GeneratorKnown {
		parts = append(parts, fmt.Sprintf("load generator %.2f s (%.2f cores)", c.Generator.Seconds(), c.Generator.Seconds()/secs))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of the generator's", ms(c.Generator)/float64(checkouts)))
		}
	}
	if c.MachineKnown {
		parts = append(parts, fmt.Sprintf("this machine %.0f%% busy", 100*c.MachineShare))
		if checkouts > 0 {
			each = append(each, fmt.Sprintf("%.2f ms of this machine's", ms(c.Machine)/float64(checkouts)))
		}
	}
	fmt.Fprintf(b, "CPU in %.1f s: %s", secs, strings.Join(parts, ", "))
	if len(each) > 0 {
		fmt.Fprintf(b, "; a complete checkout took %s", joinList(each))
	}
	// What the machine could do if the checkouts had it all: the rate a
	// target names for a machine, however busy this one was meanwhile.
	if cores := math.Round(c.MachineCores()); checkouts > 0 && c.Machine > 0 && cores >= 1 {
		each := ms(c.Machine) / float64(checkouts)
		fmt.Fprintf(b, "; at that cost its %.0f cores, all busy, would make at most %.0f complete checkouts/s", cores, cores*1000/each)
	}
	b.WriteString("\n")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// joinList joins items as a sentence lists them: "a", "a and b", "a, b
// and c".
func joinList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

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

// readMachine reads /proc/stat; elsewhere than on Linux there is none, and
// the machine's time is unknown.
func readMachine() machineReading {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return machineReading{}
	}
	defer f.Close()
	return parseProcStat(f)
}
