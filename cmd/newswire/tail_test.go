package main

import (
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

func TestTickerLine(t *testing.T) {
	e := wire.Entry{
		Source:      provenance.Source{Code: "ALLAFRICA"},
		Headline:    "Malawi: Chilima Crash 'Could Not Be Stopped'\x1b[2J…",
		PublishedAt: time.Date(2024, 6, 11, 12, 9, 0, 0, time.FixedZone("CAT", 2*3600)),
	}
	want := "10:09Z ALLAFRICA Malawi: Chilima Crash 'Could Not Be Stopped'[2J…"
	if got := TickerLine(e); got != want {
		t.Errorf("TickerLine = %q, want %q", got, want)
	}
}
