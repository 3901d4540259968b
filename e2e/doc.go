// Package e2e holds end-to-end tests of the whole pipeline on a real
// embedded nats-server: collectors → normalizer → synthesizer → API.
package e2e
