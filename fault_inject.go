//go:build faultinject

package main

import (
	"fmt"
	"io"
)

// faultHook, in binaries built with -tags faultinject, blocks forever at the
// refresh point named by AIRLOCK_FAULT after printing a marker, so the crash
// tests can kill -9 the process exactly there.
func faultHook(getenv func(string) string, stderr io.Writer) func(string) {
	point := getenv("AIRLOCK_FAULT")
	if point == "" {
		return nil
	}
	return func(p string) {
		if p != point {
			return
		}
		fmt.Fprintf(stderr, "AIRLOCK_FAULT_REACHED %s\n", p)
		select {}
	}
}
