package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof starts Go's profiler on AIRLOCK_PPROF_ADDR (a loopback address,
// checked with the config) and returns the function that stops it. It
// serves its own mux, not http.DefaultServeMux, so nothing else that
// registers there is exposed, and nothing of it is on the main listener.
func servePprof(addr string, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError{fmt.Sprintf("AIRLOCK_PPROF_ADDR (--pprof-addr) %s: cannot listen: %v", addr, err)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: a CPU profile or trace answers after its seconds.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("profiler listener stopped", "err", err)
		}
	}()
	log.Info("profiler listening", "pprof_addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
