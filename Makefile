# Airlock. `make run` starts the console; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Fuzz time per target for `make fuzz` (`make stress` fuzzes each for a minute).
FUZZTIME ?= 30s

.PHONY: run test build generate check-generated lint vet vet-untested bench stress fuzz clean

## run: start the console on ./data with generated development keys
## (go build keeps bin/airlock-dev up to date, re-linking only when code changed)
run:
	$(GO) build -o bin/airlock-dev .
	AIRLOCK_ENV=development exec bin/airlock-dev serve

## build: a static binary in bin/airlock
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/airlock .

## generate: regenerate templ output
generate:
	$(GO) tool templ generate

## check-generated: fail when committed *_templ.go files are stale or missing
check-generated: generate
	@git diff --exit-code -- '*_templ.go' || { echo "templ output is stale: run 'make generate' and commit the *_templ.go files"; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- '*_templ.go'); \
	if [ -n "$$untracked" ]; then echo "untracked generated files (commit them): $$untracked"; exit 1; fi

## vet: go vet
vet:
	$(GO) vet ./...

## lint: formatting and vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

# Fuzz targets as package:name (go test -fuzz takes one target per run).
FUZZ_TARGETS := ./oauthflow:FuzzExpandURL ./oauthflow:FuzzExpandURLTemplate ./oauthflow:FuzzExpandHeaderValue \
	./oauthflow:FuzzParseTokenResponse ./oauthflow:FuzzOutboundRequest ./handlers:FuzzImportJSON

## test: fresh generated code, vet, every test with the race detector (the
## stress and crash tests at CI size; the store's tests on SQLite, then on a
## throwaway PostgreSQL; each fuzz target's seed corpus runs as a test).
## Fuzzing itself is in `make fuzz` and `make stress`: a fuzzing build
## compiles every package again with coverage instrumentation, about four
## minutes of CPU on an empty build cache for 30 s of fuzzing.
## go test vets each package with tests (-vet=all: every check `go vet` runs,
## on the race build it compiles anyway, so nothing is type-checked twice);
## vet-untested covers the packages that have no test files.
test: check-generated vet-untested
	$(GO) test -race -vet=all -timeout 9m ./...

## vet-untested: go vet for the packages without test files (make test vets the rest)
vet-untested:
	@pkgs=$$($(GO) list -f '{{if and (not .TestGoFiles) (not .XTestGoFiles)}}{{.ImportPath}}{{end}}' ./...); \
	if [ -n "$$pkgs" ]; then $(GO) vet $$pkgs; fi

## fuzz: each fuzz target for FUZZTIME (e.g. make fuzz FUZZTIME=10m)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) $${t%%:*}; \
	done

## bench: benchmarks against baselines in the same run, one package at a time
## (-p 1: packages must not share the CPUs), then the table of figures
bench:
	$(GO) test -p 1 -count=1 -run '^$$' -bench . -benchtime=2s -timeout 20m ./... | tee bench.out
	$(GO) run ./oauthflow/benchload/benchtable -in bench.out -out bench-table.out

## stress: the stress and crash tests at full size, then each fuzz target for a minute
stress:
	AIRLOCK_STRESS=1 $(GO) test -race -count=1 -timeout 30m -run 'Stress|Crash' ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=60s

clean:
	rm -rf bin
