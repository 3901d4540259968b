package main

import (
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
)

// A feed read in a guessed character set says so in the listing.
func TestSourcesShowGuessedCharset(t *testing.T) {
	now := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	sources := []config.Source{{ID: "psy", Kind: "rss"}, {ID: "bbc", Kind: "rss"}}
	health := map[string]sourceHealth{
		"psy": {Polled: true, LastStatus: 200, Health: ingest.Health{LastPoll: now, CharsetGuessed: "windows-1252"}},
		"bbc": {Polled: true, LastStatus: 200, Health: ingest.Health{LastPoll: now}},
	}
	var b strings.Builder
	printHealth(&b, sources, health, now)
	lines := strings.Split(b.String(), "\n")
	if len(lines) < 3 || !strings.Contains(lines[1], "ok (200), charset guessed windows-1252") {
		t.Fatalf("listing:\n%s", b.String())
	}
	if strings.Contains(lines[2], "charset") {
		t.Fatalf("a declared feed is listed as guessed:\n%s", b.String())
	}
}
