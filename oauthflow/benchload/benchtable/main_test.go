package main

import (
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := `goos: linux
cpu: AMD EPYC 7B13
BenchmarkRunner/callers=1-2   	   52000	     41000 ns/op	  6.50 p50-added-µs	  0.83 throughput-ratio
BenchmarkTokenLookup  	  1000	  12.5 p50-µs
--- FAIL: BenchmarkServe/cold-start
FAIL	airlock	1.2s
`
	metrics, cpu, failed := parseBench(strings.NewReader(out))
	if cpu != "AMD EPYC 7B13" {
		t.Errorf("cpu: got %q, want %q", cpu, "AMD EPYC 7B13")
	}
	if got := metrics["BenchmarkRunner/callers=1"]["throughput-ratio"]; got != 0.83 {
		t.Errorf("throughput-ratio: got %v, want 0.83 (the -2 suffix dropped from the name)", got)
	}
	if got := metrics["BenchmarkTokenLookup"]["p50-µs"]; got != 12.5 {
		t.Errorf("p50-µs: got %v, want 12.5", got)
	}
	if len(failed) != 2 {
		t.Errorf("failed: got %q, want the FAIL lines", failed)
	}
	table := render(metrics, cpu)
	for _, want := range []string{"| Runner: throughput vs direct, 1 caller | 0.830 | ≥ 0.8 | yes |", "| Runner: added p50, 1 caller (µs) | 6.50 | ≤ 25 | yes |", "not run"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
