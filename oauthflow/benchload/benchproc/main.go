// Benchproc is the other processes of the multi-process benchmark
// (BenchmarkProcesses in package main): the upstream API, and the bare
// reverse proxy that is the floor for one extra hop. Each prints
// "listening <addr>" on stdout once it accepts connections.
//
//	benchproc upstream -addr 127.0.0.1:0
//	benchproc proxy -addr 127.0.0.1:0 -to http://127.0.0.1:9000 -header "Authorization: Bearer x"
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"
)

// upstreamBody is the API's answer: a small JSON document, as most API
// calls return.
const upstreamBody = `{"id":"u_123","name":"Ada Lovelace","email":"ada@example.com","plan":"team","active":true}`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchproc upstream|proxy [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	to := fs.String("to", "", "proxy: the upstream's URL")
	header := fs.String("header", "", "proxy: a header to inject, Name: value")
	fs.Parse(os.Args[2:])
	var h http.Handler
	switch os.Args[1] {
	case "upstream":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(upstreamBody))
		})
	case "proxy":
		var err error
		if h, err = bareProxy(*to, *header); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: benchproc upstream|proxy [flags]")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.Serve(ln))
}

// bareProxy is httputil.ReverseProxy injecting one header, with the same
// connection pool as Airlock's API client (64 idle connections per host),
// so 50 callers do not measure connection churn.
func bareProxy(to, header string) (http.Handler, error) {
	u, err := url.Parse(to)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("-to %q is not a URL", to)
	}
	name, value, _ := strings.Cut(header, ":")
	value = strings.TrimSpace(value)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 64
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			if name != "" {
				pr.Out.Header.Set(name, value)
			}
		},
		Transport: tr,
	}, nil
}
