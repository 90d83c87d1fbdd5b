package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mistore/internal/catalog"
	"mistore/internal/inventory"
)

const importUsage = "usage: mistore import products FILE.csv [--db ...]"
const exportUsage = "usage: mistore export products|orders [--market us] [--db ...]   (CSV on standard output)"

// cmdImport imports a product CSV in one transaction: the whole file or,
// on any bad row, nothing.
func cmdImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "products" {
		return errors.New(importUsage)
	}
	// Accept the file before or after the flags.
	var file string
	rest := args[1:]
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		file, rest = rest[0], rest[1:]
	}
	d, extra, err := openStore(ctx, "import products", rest, getenv, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if file == "" && len(extra) == 1 {
		file = extra[0]
	} else if len(extra) > 0 || file == "" {
		return errors.New(importUsage)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	reading := newProgress(stderr, "reading", size, bytesUnit)
	writing := newProgress(stderr, "writing", 0, "products")
	writing.show = reading.show
	res, err := c.ImportWith(cliActor(ctx, getenv), &countingReader{r: f, p: reading}, catalog.ImportOptions{
		Progress: func(done, total int) {
			if done == 1 {
				reading.finish()
			}
			writing.total = int64(total)
			writing.set(int64(done))
		},
	})
	reading.finish()
	writing.finish()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(stdout, "%s: imported %d products, %d variants into %s\n", file, res.Products, res.Variants, d.Target)
	return nil
}

// cmdExport writes the products as CSV to stdout, in the format import
// reads.
func cmdExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "orders" {
		return cmdExportOrders(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) == 0 || args[0] != "products" {
		return errors.New(exportUsage)
	}
	var mk *string
	d, extra, err := openStoreWith(ctx, "export products", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		mk = fs.String("market", "", "only this market's prices, listings, certificates and resellers (e.g. us)")
	})
	if err != nil {
		return err
	}
	defer d.Close()
	if len(extra) > 0 {
		return errors.New(exportUsage)
	}
	c := catalog.NewService(d, inventory.NewService(d), catalog.Options{})
	p := newProgress(stderr, "exporting", 0, "products")
	n, err := c.Export(ctx, stdout, catalog.ExportOptions{Market: strings.ToLower(*mk), Progress: func(done, total int) {
		p.total = int64(total)
		if total >= progressMinItems {
			p.show = true
		}
		p.set(int64(done))
	}})
	p.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d products from %s\n", n, d.Target)
	return nil
}

const bytesUnit = "bytes"

// Below these sizes an import or export is over before a bar could say
// anything, and the bar would only clutter a script's log.
const (
	progressMinBytes = 1 << 20
	progressMinItems = 1000
)

// progress draws a progress bar on stderr: one line redrawn in place
// (\r) when stderr is a terminal, a line per tenth otherwise, so that a log
// file gets a few lines rather than thousands of carriage returns.
type progress struct {
	w     io.Writer
	tty   bool
	show  bool
	label string
	unit  string
	total int64
	done  int64
	// drawn is when the terminal line was last drawn; step the last tenth
	// written as a line.
	drawn time.Time
	step  int64
	ended bool
}

func newProgress(w io.Writer, label string, total int64, unit string) *progress {
	p := &progress{w: w, label: label, total: total, unit: unit, tty: isTerminal(w), step: -1}
	p.show = p.tty || (unit == bytesUnit && total >= progressMinBytes)
	return p
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) set(done int64) {
	p.done = done
	if !p.show || p.ended || p.total <= 0 {
		return
	}
	if p.tty {
		if now := time.Now(); done >= p.total || now.Sub(p.drawn) >= 100*time.Millisecond {
			p.drawn = now
			fmt.Fprintf(p.w, "\r%s", p.line())
		}
		return
	}
	if step := done * 10 / p.total; step > p.step {
		p.step = step
		fmt.Fprintln(p.w, p.line())
	}
}

// finish ends the bar's line, once.
func (p *progress) finish() {
	if !p.show || p.ended || p.total <= 0 || p.done == 0 {
		p.ended = true
		return
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\n", p.line())
	} else if p.step < 10 {
		fmt.Fprintln(p.w, p.line())
	}
	p.ended = true
}

func (p *progress) line() string {
	const width = 30
	pct := min(p.done*100/p.total, 100)
	filled := int(pct * width / 100)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	return fmt.Sprintf("%-9s [%s] %3d%%  %s", p.label, bar, pct, p.amount())
}

func (p *progress) amount() string {
	if p.unit != bytesUnit {
		return fmt.Sprintf("%d/%d %s", p.done, p.total, p.unit)
	}
	mb := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
	return mb(p.done) + "/" + mb(p.total) + " MB"
}

// countingReader tells a progress bar how much of a file was read.
type countingReader struct {
	r io.Reader
	p *progress
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.set(c.n)
	return n, err
}
