// Benchtable prints `make bench`'s table of figures: it reads the output of
// `go test -bench` and writes each figure with its target and whether it was
// met, plus the machine it ran on. It exits 1 when a benchmark failed.
//
//	go run ./oauthflow/benchload/benchtable -in bench.out -out bench-table.out
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// figure is one row of `make bench`'s table: a metric of a benchmark, with
// the target its issue set for it (op "" when there is none).
type figure struct {
	label  string
	bench  string // benchmark name without the -GOMAXPROCS suffix
	unit   string
	op     string // "<=", ">=", "<" or ""
	target float64
}

var figures = []figure{
	// The headline (issue 18): the binary, the upstream and a bare reverse
	// proxy as three processes; targets are ratios to the bare proxy.
	{"Processes: direct p50, 1 caller (µs)", "BenchmarkProcesses/callers=1", "direct-p50-µs", "", 0},
	{"Bare proxy: added p50, 1 caller (µs)", "BenchmarkProcesses/callers=1", "bare-added-p50-µs", "", 0},
	{"Bare proxy: CPU per request, 1 caller (µs)", "BenchmarkProcesses/callers=1", "bare-cpu-µs/req", "", 0},
	{"Proxy: added p50 vs bare proxy, 1 caller", "BenchmarkProcesses/callers=1", "proxy-added-p50-ratio", "<=", 1.2},
	{"Proxy: added p99, 1 caller (µs)", "BenchmarkProcesses/callers=1", "proxy-added-p99-µs", "", 0},
	{"Proxy: CPU per request vs bare proxy, 1 caller", "BenchmarkProcesses/callers=1", "proxy-cpu-ratio", "<=", 1.2},
	{"Proxy: CPU per request vs bare proxy, 50 callers", "BenchmarkProcesses/callers=50", "proxy-cpu-ratio", "<=", 1.2},
	{"Proxy: throughput vs bare proxy, 50 callers", "BenchmarkProcesses/callers=50", "proxy-throughput-ratio", ">=", 0.95},
	{"Proxy: added p99, 50 callers (µs)", "BenchmarkProcesses/callers=50", "proxy-added-p99-µs", "", 0},
	{"Request API: added p50 vs bare proxy, 1 caller", "BenchmarkProcesses/callers=1", "api-added-p50-ratio", "<=", 1.5},
	{"Request API: added p99, 1 caller (µs)", "BenchmarkProcesses/callers=1", "api-added-p99-µs", "", 0},
	{"Request API: CPU per request vs bare proxy, 1 caller", "BenchmarkProcesses/callers=1", "api-cpu-ratio", "<=", 1.5},
	{"Request API: CPU per request vs bare proxy, 50 callers", "BenchmarkProcesses/callers=50", "api-cpu-ratio", "<=", 1.5},
	{"Request API: throughput vs bare proxy, 50 callers", "BenchmarkProcesses/callers=50", "api-throughput-ratio", ">=", 0.9},
	{"Request API: added p99, 50 callers (µs)", "BenchmarkProcesses/callers=50", "api-added-p99-µs", "", 0},
	// The in-process breakdown.
	{"Runner: added p50, 1 caller (µs)", "BenchmarkRunner/callers=1", "p50-added-µs", "<=", 25},
	{"Runner: throughput vs direct, 1 caller", "BenchmarkRunner/callers=1", "throughput-ratio", ">=", 0.8},
	{"Runner: added CPU per request, 1 caller (µs)", "BenchmarkRunner/callers=1", "cpu-added-µs/req", "", 0},
	{"Runner: added p50, 50 callers (µs, mostly queueing)", "BenchmarkRunner/callers=50", "p50-added-µs", "", 0},
	{"Runner: added CPU per request, 50 callers (µs)", "BenchmarkRunner/callers=50", "cpu-added-µs/req", "<=", 25},
	{"Runner: throughput vs direct, 50 callers", "BenchmarkRunner/callers=50", "throughput-ratio", ">=", 0.8},
	{"Request API: added p50 over direct, 1 caller (µs)", "BenchmarkRequestAPI/callers=1", "p50-added-µs", "<=", 100},
	{"Bare proxy: added p50 over direct, 1 caller (µs)", "BenchmarkRequestAPI/callers=1", "proxy-added-µs", "", 0},
	{"Request API: throughput vs bare proxy, 50 callers", "BenchmarkRequestAPI/callers=50", "vs-proxy-ratio", ">=", 0.8},
	{"Request API: CPU per request vs bare proxy, 50 callers", "BenchmarkRequestAPI/callers=50", "cpu-vs-proxy-ratio", "", 0},
	{"Request API: throughput, 50 callers (req/s)", "BenchmarkRequestAPI/callers=50", "req/s", "", 0},
	{"Request API on PostgreSQL: throughput vs SQLite, 1 caller (about 1 expected)", "BenchmarkRequestAPIDatabases/callers=1", "vs-sqlite-ratio", "", 0},
	{"Request API on PostgreSQL: throughput vs SQLite, 50 callers (about 1 expected)", "BenchmarkRequestAPIDatabases/callers=50", "vs-sqlite-ratio", "", 0},
	{"Request API on PostgreSQL: p50 added over SQLite, 1 caller (µs)", "BenchmarkRequestAPIDatabases/callers=1", "p50-added-µs", "", 0},
	{"Account + integration lookup, cached (µs)", "BenchmarkRequestTarget", "cached-p50-µs", "", 0},
	{"Account + integration lookup, from SQLite (µs)", "BenchmarkRequestTarget", "store-p50-µs", "", 0},
	{"Token lookup from SQLite, unsealed, p50 (µs)", "BenchmarkTokenLookup", "p50-µs", "", 0},
	{"Token lookup from SQLite, unsealed, p99 (µs)", "BenchmarkTokenLookup", "p99-µs", "", 0},
	{"Token lookup, manager cache hit, p50 (µs)", "BenchmarkTokenLookup", "cached-p50-µs", "", 0},
	{"Token lookup from PostgreSQL, unsealed, p50 (µs)", "BenchmarkTokenLookupDatabases", "postgres-p50-µs", "", 0},
	{"Token lookup from SQLite, same run, p50 (µs)", "BenchmarkTokenLookupDatabases", "sqlite-p50-µs", "", 0},
	{"Refresh with traces vs without, keep-alive (median of rounds)", "BenchmarkRefreshTraces/keepalive", "on-off-ratio", "<=", 1.10},
	{"Refresh with traces vs without, manual (median of rounds)", "BenchmarkRefreshTraces/manual", "on-off-ratio", "<=", 1.10},
	{"Refresh with traces vs without, keep-alive, CPU (median of rounds)", "BenchmarkRefreshTraces/keepalive", "cpu-on-off-ratio", "<=", 1.10},
	{"Refresh with traces vs without, manual, CPU (median of rounds)", "BenchmarkRefreshTraces/manual", "cpu-on-off-ratio", "<=", 1.10},
	{"Integrations list page, p50 (ms)", "BenchmarkConsolePages/integrations", "p50-ms", "", 0},
	{"Integrations list page, p99 (ms)", "BenchmarkConsolePages/integrations", "p99-ms", "<", 20},
	{"Accounts list page, p50 (ms)", "BenchmarkConsolePages/accounts", "p50-ms", "", 0},
	{"Accounts list page, p99 (ms)", "BenchmarkConsolePages/accounts", "p99-ms", "<", 20},
	{"Account page, p50 (ms)", "BenchmarkConsolePages/account", "p50-ms", "", 0},
	{"Account page, p99 (ms)", "BenchmarkConsolePages/account", "p99-ms", "<", 20},
	{"Accounts search page, p50 (ms)", "BenchmarkConsolePages/accounts-search", "p50-ms", "", 0},
	{"Accounts search page, p99 (ms)", "BenchmarkConsolePages/accounts-search", "p99-ms", "", 0},
	{"Cold start to /readyz, p50 (ms)", "BenchmarkServe/cold-start", "p50-ms", "<", 200},
	{"Cold start to /readyz, max (ms)", "BenchmarkServe/cold-start", "max-ms", "", 0},
	{"Idle RSS (MB)", "BenchmarkServe/cold-start", "idle-rss-MB", "<", 40},
	{"Binary size, -trimpath -s -w (MB)", "BenchmarkServe/cold-start", "binary-MB", "", 0},
}

func main() {
	in := flag.String("in", "bench.out", "output of go test -bench to read")
	out := flag.String("out", "", "file to write the table to as well (none when empty)")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// run reads the benchmark output named in and prints the table, also into
// the file out unless it is empty. A failed benchmark is an error, after the table.
func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	metrics, cpu, failed := parseBench(f)
	table := render(metrics, cpu)
	fmt.Print(table)
	if out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("benchmarks failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// render writes the figures as a Markdown table under a line naming the machine.
func render(metrics map[string]map[string]float64, cpu string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %s %s/%s, load average at the end %s\n\n", runtime.NumCPU(), cpu, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, loadAverage())
	fmt.Fprintln(&b, "| Figure | Value | Target | Met |")
	fmt.Fprintln(&b, "|---|---:|---|---|")
	for _, fg := range figures {
		v, ok := metrics[fg.bench][fg.unit]
		value, target, met := "not run", "—", ""
		if ok {
			value = strconv.FormatFloat(v, 'f', precision(v), 64)
		}
		if fg.op != "" {
			target = strings.NewReplacer("<=", "≤ ", ">=", "≥ ", "<", "< ").Replace(fg.op) + strconv.FormatFloat(fg.target, 'f', -1, 64)
			if ok {
				met = map[bool]string{true: "yes", false: "**no**"}[meets(v, fg.op, fg.target)]
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fg.label, value, target, met)
	}
	return b.String()
}

// parseBench reads benchmark result lines ("BenchmarkX/sub-2  N  v unit
// v unit …") into metrics by name and unit, the "cpu:" line, and failures.
func parseBench(f io.Reader) (map[string]map[string]float64, string, []string) {
	metrics := map[string]map[string]float64{}
	cpu := "unknown CPU"
	var failed []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = strings.TrimSpace(c)
		}
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "panic:") {
			failed = append(failed, strings.TrimSpace(line))
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				m[fields[i+1]] = v
			}
		}
		metrics[name] = m
	}
	return metrics, cpu, failed
}

func meets(v float64, op string, target float64) bool {
	switch op {
	case "<=":
		return v <= target
	case ">=":
		return v >= target
	case "<":
		return v < target
	}
	return true
}

// precision keeps three significant digits or so.
func precision(v float64) int {
	switch a := max(v, -v); {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
