# newswire — see README.md
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: run demo test test-reliability vet unit fuzz bench build eval train clean

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

## test-reliability: the full crash, server-crash, soak and hostile-input tests
## (reliability/; `make test` runs their short versions)
test-reliability:
	NEWSWIRE_RELIABILITY=full $(GO) test -count=1 -timeout 30m -v -run . ./reliability

## fuzz: every fuzz target for FUZZTIME each (seeded from testdata)
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

## bench: benchmarks (throughput, memory, latency); figures go in README
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1x -count=1 $(PKGS)

## eval: score story clustering on the bundled labelled dev sets, each in four orders
eval:
	$(GO) run ./cmd/newswire eval --orders testdata/replay/uci-news-2014-03.jsonl
	$(GO) run ./cmd/newswire eval --orders testdata/replay/ecbplus-dev.jsonl

## train: fit the join model on the bundled dev sets and write synth/model.json
train:
	$(GO) run ./cmd/newswire train --out synth/model.json testdata/replay/uci-news-2014-03.jsonl testdata/replay/ecbplus-dev.jsonl

build:
	$(GO) build -o newswire ./cmd/newswire

clean:
	rm -rf data data-demo newswire
