package oauthflow_test

import (
	"context"
	"fmt"
	"testing"

	"airlock/oauthflow"
	"airlock/oauthflow/fakeprovider"
)

// BenchmarkRefreshTraces refreshes a rotating account with traces off and
// on, in the same run, and prints the ratio on/off (issue 15: at most 1.10).
func BenchmarkRefreshTraces(b *testing.B) {
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
				if _, err := m.Refresh(ctx, e.acct, e.in, oauthflow.ReasonManual); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			ns[i] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}
	if ns[0] > 0 {
		fmt.Printf("BenchmarkRefreshTraces: traces on/off = %.3f (%.0f ns vs %.0f ns per refresh)\n", ns[1]/ns[0], ns[1], ns[0])
	}
}
