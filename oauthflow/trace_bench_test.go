package oauthflow_test

import (
	"context"
	"fmt"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// BenchmarkRefreshTraces refreshes a rotating account with traces off and
// on, in the same run, and prints the ratio on/off (issue 15: at most
// 1.10): automatic refreshes (keep-alive: the trace is saved in the
// background) and manual ones (saved before the refresh returns).
func BenchmarkRefreshTraces(b *testing.B) {
	for _, reason := range []string{oauthflow.ReasonKeepalive, oauthflow.ReasonManual} {
		b.Run(reason, func(b *testing.B) { benchRefreshTraces(b, reason) })
	}
}

func benchRefreshTraces(b *testing.B, reason string) {
	var ns [2]float64
	for i, traced := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[traced], func(b *testing.B) {
			e := newEngine(b, fakeprovider.Options{RotateRefreshTokens: true}, oauthflow.GrantAuthorizationCode)
			e.connect()
			m := e.mgr
			if traced {
				m = tracedManager(e)
			}
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := m.Refresh(ctx, e.acct, e.in, reason); err != nil {
					b.Fatal(err)
				}
			}
			e.settle() // the background saves count
			b.StopTimer()
			ns[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	if ns[0] > 0 {
		fmt.Printf("BenchmarkRefreshTraces/%s: traces on/off = %.3f (%.0f ns vs %.0f ns per refresh)\n", reason, ns[1]/ns[0], ns[1], ns[0])
	}
}
