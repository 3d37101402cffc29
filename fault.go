//go:build !faultinject

package main

import "io"

// faultHook is nil in normal builds: no fault points, no cost.
func faultHook(getenv func(string) string, stderr io.Writer) func(string) { return nil }

// testHooks are none in normal builds: the real clock, the default lease,
// nothing in front of the routes.
func testHooks(getenv func(string) string) hooks { return hooks{} }
