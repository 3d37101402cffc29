//go:build !faultinject

package main

import "io"

// faultHook is nil in normal builds: no fault points, no cost.
func faultHook(getenv func(string) string, stderr io.Writer) func(string) { return nil }
