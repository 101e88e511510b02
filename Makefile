# secgate: build, test, fuzz, benchmark.
#
#   make test     install the system packages the tests need when missing
#                 (postfix, dovecot, gnupg; apt-get, as root), then run every
#                 test, unit and integration, with the race detector
#   make build    build bin/secgate
#   make check    go vet and gofmt
#   make fuzz     run each Fuzz target for FUZZTIME (default 10m)
#   make bench    run the benchmarks
#   make mutate   remove each check of the security model in turn
#                 (scripts/mutate.sh) and expect its test to fail

GO ?= go
FUZZTIME ?= 10m
BENCHTIME ?= 1s

.PHONY: all test deps build check fuzz bench mutate clean

all: check build test

test: deps
	$(GO) test -race -shuffle=on -timeout 25m ./...

deps:
	@./scripts/install-deps.sh

build:
	$(GO) build -trimpath -o bin/secgate ./cmd/secgate

check:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fuzz:
	@FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

mutate:
	@GO=$(GO) ./scripts/mutate.sh

clean:
	rm -rf bin
