# racefree: every test runs against real servers (see scripts/services.sh and
# internal/testenv). `make test` is the whole test suite, with no manual step.

SHELL := /bin/bash
PKGS ?= ./...
GOBIN := $(shell go env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2

.PHONY: test test-containers bench bench-compare lint services-up services-down

## test: start the servers (unless RACEFREE_* endpoints are given), run every test
## with the race detector and RACEFREE_REQUIRE=all, stop what was started; then
## build and unit-test the bench module (its own go.mod, so ./... skips it).
test:
	scripts/with-services.sh go test -race -count=1 $(PKGS)
	cd bench && go vet ./... && go test -race -count=1 ./...

## test-containers: run the Redis and etcd smoke tests through testcontainers
## (starts a loopback-only Docker engine and builds the images from host binaries).
test-containers:
	scripts/containers.sh

## bench: the benchmarks, against the same servers.
bench:
	scripts/with-services.sh go test -run '^$$' -bench . -benchmem $(PKGS)

## bench-compare: racefree's Lockers against redsync, redislock, etcd's concurrency Mutex,
## go-zookeeper's Lock, pgx advisory locks and the raw protocol floors (bench/, its own
## module); table on stdout, JSON lines in bench/results.jsonl. BENCH_FLAGS: see -h.
bench-compare:
	scripts/with-services.sh bash -c 'cd bench && go run ./cmd/lockbench -json results.jsonl $(BENCH_FLAGS)'

## lint: gofmt, go vet and staticcheck must be silent.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n $$out ]]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	go vet $(PKGS)
	@[[ -x $(GOBIN)/staticcheck ]] || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck $(PKGS)
	cd bench && go vet ./... && $(GOBIN)/staticcheck ./...

## services-up / services-down: the servers alone (then `eval "$$(scripts/services.sh env)"`).
services-up:
	scripts/services.sh up
	@scripts/services.sh env

services-down:
	scripts/services.sh down
