package views

import (
	"fmt"
	"net/http"
	"net/url"
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

// Since words a duration in the past: "3 min ago".
func Since(d time.Duration) string {
	if d < time.Minute {
		return "just now"
	}
	return Duration(d) + " ago"
}

// Duration words a duration roughly: "40 s", "12 min", "5 h", "3 days".
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 10*time.Hour:
		h, m := int(d.Hours()), int((d%time.Hour)/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Round(time.Hour).Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func statusText(code int) string {
	if code == 0 {
		return "no answer"
	}
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

func statusClass(code int) string {
	switch {
	case code >= 200 && code < 300:
		return "ok"
	case code >= 300 && code < 400:
		return "info"
	case code >= 400 && code < 500:
		return "warn"
	}
	return "danger"
}

func nextAccountsURL(v AccountsView) string {
	q := url.Values{"cursor": {v.Next}}
	if v.Q != "" {
		q.Set("q", v.Q)
	}
	if v.Status != "" {
		q.Set("status", v.Status)
	}
	if v.IntegrationKey != "" {
		q.Set("integration", v.IntegrationKey)
	}
	if v.Sort != "" {
		q.Set("sort", v.Sort)
	}
	return "/accounts?" + q.Encode()
}

func nextActivityURL(v ActivityView) string {
	q := url.Values{"cursor": {v.Next}}
	if v.AccountID != "" {
		q.Set("account", v.AccountID)
	}
	if v.Kind != "" {
		q.Set("kind", v.Kind)
	}
	return "/activity?" + q.Encode()
}

func accountFormAction(f AccountForm) string {
	if f.ID == "" {
		return "/integrations/" + url.PathEscape(f.IntegrationKey) + "/accounts"
	}
	return "/accounts/" + url.PathEscape(f.ID)
}

func accountFormCancel(f AccountForm) string {
	if f.ID == "" {
		return "/integrations/" + url.PathEscape(f.IntegrationKey)
	}
	return "/accounts/" + url.PathEscape(f.ID)
}

// chartStep is the width of one hour in the activity chart.
const chartStep = 24

func chartWidth(bars []ChartBar) int { return max(1, len(bars)) * chartStep }

func chartMax(bars []ChartBar) int {
	m := 0
	for _, b := range bars {
		m = max(m, b.Requests, b.Refreshes)
	}
	return m
}

// barHeight scales a count to at most 110 px; a non-zero count is at least 2 px.
func barHeight(n int, bars []ChartBar) int {
	m := chartMax(bars)
	if n == 0 || m == 0 {
		return 0
	}
	return max(2, n*110/m)
}
