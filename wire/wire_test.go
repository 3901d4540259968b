package wire

import (
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
)

func TestTicker(t *testing.T) {
	e := Entry{
		Source:      provenance.Source{Code: "ALLAFRICA"},
		Headline:    "Malawi: Chilima Crash 'Could Not Be Stopped'\x1b[2J…",
		PublishedAt: time.Date(2024, 6, 11, 12, 9, 0, 0, time.FixedZone("CAT", 2*3600)),
	}
	want := "10:09Z ALLAFRICA Malawi: Chilima Crash 'Could Not Be Stopped'[2J…"
	if got := e.Ticker(); got != want {
		t.Errorf("Ticker = %q, want %q", got, want)
	}
}
