package views

import (
	"testing"
	"time"
)

func TestDurationWording(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{40 * time.Second, "40 s"},
		{12*time.Minute + 30*time.Second, "12 min"},
		{time.Hour + 59*time.Minute + 50*time.Second, "1 h 59 min"},
		{2 * time.Hour, "2 h"},
		{20*time.Hour + 40*time.Minute, "21 h"},
		{72 * time.Hour, "3 days"},
		{-5 * time.Minute, "5 min"},
	}
	for _, tc := range cases {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v): got %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := Since(30 * time.Second); got != "just now" {
		t.Errorf("Since(30s): got %q", got)
	}
	if got := Since(3 * time.Hour); got != "3 h ago" {
		t.Errorf("Since(3h): got %q", got)
	}
}

func TestDocTitle(t *testing.T) {
	if got := (Page{Title: "Users", Org: "Acme"}).DocTitle(); got != "Users · Acme · Airlock" {
		t.Errorf("got %q", got)
	}
	if got := (Page{}).DocTitle(); got != "Airlock" {
		t.Errorf("got %q", got)
	}
}
