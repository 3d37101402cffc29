package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"airlock/oauthflow/benchload"
	"airlock/store"
	"airlock/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop() // the cluster BenchmarkRequestAPIDatabases started, if it ran
	os.Exit(code)
}

// BenchmarkRequestAPIDatabases is the request API end to end on PostgreSQL
// against the same on SQLite, in the same run: the request path reads
// nothing from the database (the account, integration, token and API key
// are cached; activity is written in batches off the path), so the ratio
// should be about 1. CPU is this process's only: PostgreSQL's own work is
// in its server's processes.
func BenchmarkRequestAPIDatabases(b *testing.B) {
	api := benchUpstream(b)
	lite := newBenchServer(b)
	sealer, _ := store.NewSealer(bytes.Repeat([]byte{7}, store.KeySize))
	pgst, err := store.OpenPostgres(context.Background(), pgtest.Database(b), store.Options{Sealer: sealer})
	if err != nil {
		b.Fatal(err)
	}
	pg := newBenchServerOn(b, pgst)
	client := &http.Client{Transport: benchClientTransport()}
	reqBody := `{"method":"GET","url":"` + api.URL + `/v1/me","headers":{"Accept":"application/json"}}`
	via := func(bs *benchServer) func() error {
		id, _ := bs.benchConnected(b, api.URL)
		key := bs.apiKey(b, store.RoleBuilder)
		return func() error {
			req, _ := http.NewRequest(http.MethodPost, bs.srv.URL+"/api/v1/accounts/"+id+"/request", strings.NewReader(reqBody))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			return benchDo(client, req)
		}
	}
	variants := []benchload.Variant{{Name: "sqlite", Call: via(lite)}, {Name: "postgres", Call: via(pg)}}
	for _, callers := range []int{1, 50} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			runs := benchload.Compare(b, callers, variants)
			lr, pr := runs[0], runs[1]
			b.ReportMetric(benchload.Micros(lr.Pct(50)), "sqlite-p50-µs")
			b.ReportMetric(benchload.Micros(pr.Pct(50)), "p50-µs")
			b.ReportMetric(benchload.Micros(pr.Pct(99)), "p99-µs")
			b.ReportMetric(benchload.Micros(pr.Pct(50)-lr.Pct(50)), "p50-added-µs")
			b.ReportMetric(pr.Rate(), "req/s")
			b.ReportMetric(pr.Rate()/lr.Rate(), "vs-sqlite-ratio")
		})
	}
}
