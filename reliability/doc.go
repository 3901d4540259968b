// Package reliability holds the tests that prove the README's guarantees
// against real processes: the newswire binary's stages and a nats-server
// process SIGKILLed and restarted, a soak of the all-in-one pipeline, and a
// corpus of hostile inputs. `make test` runs short versions;
// NEWSWIRE_RELIABILITY=full (`make test-reliability`) the full ones.
//
// BenchmarkClusterScaleOut runs the split pipeline of the cluster test on
// its own fresh clusters to measure throughput with 1, 2 and 4 normalizer
// processes; `make bench` (cmd/benchreport) runs it, `make test` does not.
package reliability
