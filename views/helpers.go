package views

import (
	"fmt"
	"strconv"
	"time"
)

func itoa(n int) string  { return strconv.Itoa(n) }
func i64(n int64) string { return strconv.FormatInt(n, 10) }

// Ago renders a past time as "3 min ago"; the exact time is in the title.
func Ago(t time.Time) string { return AgoOr(t, "") }

// AgoOr is Ago with a word for the zero time.
func AgoOr(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return Since(time.Since(t))
}

// Since words a duration in the past.
func Since(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
