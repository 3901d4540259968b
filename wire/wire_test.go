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

// TestBodyLeavesOutAHeadlineTakenFromTheText: a headline taken from the
// text, whole or cut with "…", is left out of the body; a title of its
// own leaves the text whole.
func TestBodyLeavesOutAHeadlineTakenFromTheText(t *testing.T) {
	text := "Quake of magnitude 6.1 strikes off Chile. No damage was reported."
	for _, c := range []struct{ headline, want string }{
		{"Quake of magnitude 6.1 strikes off Chile.", " No damage was reported."},
		{"Quake of magnitude 6.1…", " strikes off Chile. No damage was reported."},
		{"Chile quake: no damage", text},
		{"", text},
		{"…", text},
	} {
		if got := (Entry{Headline: c.headline, Text: text}).Body(); got != c.want {
			t.Errorf("headline %q: body %q, want %q", c.headline, got, c.want)
		}
	}
}
