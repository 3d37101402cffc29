package handlers

import (
	"fmt"
	"strings"
	"testing"
)

func TestCookieNames(t *testing.T) {
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("c%d=v", i)
	}
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"plain", []string{"a=1; b=2"}, "a b"},
		{"several lines, repeats", []string{"a=1; b=2", "b=3;c=4"}, "a b c"},
		{"spaces and empty parts", []string{" a = 1 ;; ;b=2; "}, "a b"},
		{"no value", []string{"flag; a=1"}, "flag a"},
		{"bad names skipped", []string{"a b=1; \"q\"=2; x\ny=3; ok=4; é=5"}, "ok"},
		{"at most the limit", []string{strings.Join(many, "; ")}, strings.Join(func() []string {
			var n []string
			for i := range 200 {
				n = append(n, fmt.Sprintf("c%d", i))
			}
			return n
		}(), " ")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(cookieNames(tc.lines, 200), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
