package ingest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/rss"
	"github.com/newswire/newswire/ingest/telegram"
	"github.com/newswire/newswire/ingest/tgweb"
)

// TestCollectorStatesCarryHealth holds every collector to the shared
// contract: its stored state, under HealthKey, decodes into Health.
func TestCollectorStatesCarryHealth(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	want := ingest.Health{Errors: 2, LastError: "boom", LastPoll: at, LastSuccess: at.Add(-time.Hour), NextPoll: at.Add(time.Hour), Published: 7}

	r := rss.State{Errors: 2, LastError: "boom", LastPoll: at, LastSuccess: at.Add(-time.Hour), NextPoll: at.Add(time.Hour), Published: 7}
	// The Telegram collectors embed Health; marshalling must still put its
	// fields at the top level of their state.
	tg := telegram.State{Username: "allafrica", Health: want}
	tw := tgweb.State{Username: "allafrica", Health: want}
	for name, c := range map[string]struct {
		state any
		key   string
		kind  string
	}{
		"rss":      {r, rss.StateKey("AllAfrica"), "rss"},
		"telegram": {tg, telegram.StateKey("AllAfrica"), "telegram"},
		"tgweb":    {tw, tgweb.StateKey("AllAfrica"), "tgweb"},
	} {
		data, err := json.Marshal(c.state)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ingest.ReadHealth(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s health = %+v, want %+v", name, got, want)
		}
		if k := ingest.HealthKey(c.kind, "AllAfrica"); k != c.key {
			t.Errorf("%s key = %q, collector uses %q", name, k, c.key)
		}
	}
}
