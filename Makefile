# Airlock. `make run` starts the console; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Fuzz time per target inside `make test` (longer in `make stress`).
FUZZTIME ?= 5s

.PHONY: run test build generate check-generated lint vet bench stress fuzz clean

## run: start the console on ./data with generated development keys
run:
	AIRLOCK_ENV=development $(GO) run . serve

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

## test: fresh generated code, vet, then every test with the race detector
test: check-generated vet
	$(GO) test -race -timeout 9m ./...

## bench: benchmarks against baselines in the same run
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## stress: the stress and fault tests at full size
stress:
	AIRLOCK_STRESS=1 $(GO) test -race -timeout 30m -run 'Stress|Crash|Fuzz' ./...

clean:
	rm -rf bin
