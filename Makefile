# newswire — see README.md
GO       ?= go
PKGS     := ./...
FUZZTIME ?= 10s

.PHONY: run demo demo-clean test test-reliability vet unit fuzz bench bench-all build size langmodel eval train clean

# run and demo build the binary first and exec it, so that the signals make
# passes on (Ctrl-C, SIGTERM) reach newswire itself, not a `go run` parent.

## run: the pipeline on the embedded server with the default config (real RSS feeds)
run: build
	exec ./newswire run $(if $(CONFIG),--config $(CONFIG))

## demo: the pipeline over real data bundled in testdata/replay (no network needed)
demo: build
	@if [ -d data-demo/jetstream ]; then \
	  echo "make demo: data-demo already holds this replay, so the pages show what it holds and nothing new arrives"; \
	  echo "           (every item is a duplicate; the replay positions are stored). 'make demo-clean demo' replays from the start."; \
	fi
	exec ./newswire run --config deploy/demo.yaml

## demo-clean: remove the demo's store (refused while a demo runs on it)
demo-clean:
	@if [ -f data-demo/newswire.lock ] && command -v flock >/dev/null && ! flock -n data-demo/newswire.lock true; then \
	  echo "make demo-clean: a demo is running on data-demo; stop it first"; exit 1; fi
	rm -rf data-demo

## test: vet, the race-enabled test suite, short bounded fuzzing and the binary's size
test: vet unit fuzz size

vet:
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## test-reliability: the full crash, server-crash, soak and hostile-input tests
## (reliability/; `make test` runs their short versions)
test-reliability:
	NEWSWIRE_RELIABILITY=full $(GO) test -count=1 -timeout 45m -v -run . ./reliability

## fuzz: every fuzz target for FUZZTIME each (seeded from testdata)
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

## bench: the benchmark report: writes BENCHMARKS.md and bench.json (BENCHFLAGS=-quick for a smoke run)
bench:
	$(GO) run ./cmd/benchreport $(BENCHFLAGS)

## bench-all: every Go benchmark once, without the report
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1x -count=1 $(PKGS)

## eval: score story clustering on the bundled labelled dev sets, each in four orders
eval:
	$(GO) run ./cmd/newswire eval --orders testdata/replay/uci-news-2014-03.jsonl
	$(GO) run ./cmd/newswire eval --orders testdata/replay/ecbplus-dev.jsonl

## train: fit the join model on the bundled dev sets and write synth/model.json
train:
	$(GO) run ./cmd/newswire train --out synth/model.json testdata/replay/uci-news-2014-03.jsonl testdata/replay/ecbplus-dev.jsonl

## build: ./newswire without debug information or build paths (-s -w, -trimpath):
## 57.2 MB with Go 1.26; panics still name functions and lines. For a debugger:
## go build ./cmd/newswire (about 74 MB)
build:
	@echo "building ./newswire (the first build compiles every dependency: a few minutes)"
	$(GO) build -trimpath -ldflags='-s -w' -o newswire ./cmd/newswire

## size: build, then fail if ./newswire is over MAX_BINARY_MB (issue 14: at most 60 MB)
MAX_BINARY_MB ?= 60
size: build
	@bytes=$$(wc -c < newswire); limit=$$(( $(MAX_BINARY_MB) * 1000 * 1000 )); \
	  echo "newswire is $$bytes bytes (limit $$limit)"; \
	  if [ "$$bytes" -gt "$$limit" ]; then echo "make size: newswire is over $(MAX_BINARY_MB) MB"; exit 1; fi

## langmodel: rewrite normalize/langmodel/ngrams.txt.gz from lingua-go's models
## (needs the Go module proxy or a module cache holding lingua-go v1.4.0;
## LANGS=en,ru,... for other languages; see normalize/langmodel/README.md)
langmodel:
	$(GO) run ./internal/cmd/langmodel -out normalize/langmodel/ngrams.txt.gz $(if $(LANGS),-languages $(LANGS))

clean:
	rm -rf data data-demo newswire
