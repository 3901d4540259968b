// Package bench measures the whole pipeline against the limit of its
// message bus, on the same embedded nats-server in the same run, and turns
// the figures of several runs into BENCHMARKS.md and bench.json.
//
// The measurements are Go benchmarks (pipeline_test.go here, and the growth
// benchmarks of normalize and synth); cmd/benchreport runs them with
// `go test -bench`, several times each, and this package parses their
// output and writes the report. `make bench` does both.
package bench
