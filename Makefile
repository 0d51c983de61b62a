# Targets for developers and CI. `make test` is what CI runs.
GO ?= go
# staticcheck is pinned here and run through the module proxy, so a fresh
# machine needs nothing but Go.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 60s
BENCHTIME ?= 1s

.PHONY: test generate check-generated lint bench fuzz demo loadtest interop

## test: freshness of generated code, gofmt, go vet, staticcheck, then every test with -race.
test: check-generated lint
	$(GO) test -race -count=1 ./...

## generate: regenerate urlmap_gen.go from endpoints.toml.
generate:
	$(GO) generate ./...

## check-generated: fail if urlmap_gen.go does not match endpoints.toml.
check-generated:
	$(GO) run ./cmd/genendpoints -check

## lint: gofmt, go vet and staticcheck.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: every benchmark with allocations; ratios against crypto/ed25519 and jwt.Parse baselines.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

## fuzz: run every fuzz target for FUZZTIME each.
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

## demo: the main job end to end on an embedded local backend.
demo:
	$(GO) run ./cmd/agentid demo

## loadtest: agentid gateway on loopback, 64 clients, 100,000 requests, 1 in 10 forged or stale, then a bare reverse proxy under the same load: p50/p99 side by side, 0 wrong verdicts (no -race; each run stops after 5 min).
loadtest:
	AGENTID_LOADTEST=1 $(GO) test -count=1 -run '^TestGatewayLoad$$' -timeout 11m -v ./cmd/agentid

## interop: the real Codex CLI 0.171.0 against the fake backend, inside a loopback-only network namespace (needs npm the first time, and unshare); then, as a report that never fails, which rows change against npm's latest Codex.
interop:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(GO) test -tags interop -c -o "$$tmp/interop.test" ./interop && \
	"$$tmp/interop.test"
