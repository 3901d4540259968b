# newswire — see README.md
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: run demo test vet unit fuzz bench build eval clean

## run: the pipeline on the embedded server with the default config (real RSS feeds)
run:
	$(GO) run ./cmd/newswire run $(if $(CONFIG),--config $(CONFIG))

## demo: the pipeline over real data bundled in testdata/replay (no network needed)
demo:
	$(GO) run ./cmd/newswire run --config deploy/demo.yaml

## test: vet, the race-enabled test suite and short bounded fuzzing
test: vet unit fuzz

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## fuzz: every fuzz target for FUZZTIME each (seeded from testdata)
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

## bench: benchmarks (throughput, memory, latency); figures go in README
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1x -count=1 $(PKGS)

## eval: score story clustering on the bundled labelled stream
eval:
	$(GO) run ./cmd/newswire eval testdata/replay/uci-news-2014-03.jsonl

build:
	$(GO) build -o newswire ./cmd/newswire

clean:
	rm -rf data data-demo newswire
