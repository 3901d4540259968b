package ingest

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFreshnessLearnsCadenceAndFlagsSilence(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var f Freshness
	f.Observe(t0, 30) // first poll: the backlog
	now := t0
	for range 2 {
		now = now.Add(2 * time.Minute)
		f.Observe(now, 1)
		f.Observe(now, 0) // polls that find nothing teach nothing
	}
	if f.Cadence() != 0 || f.Quiet(now.Add(24*time.Hour)) {
		t.Fatalf("two intervals learned: cadence %v, quiet after a day %v; a source is never quiet before %d", f.Cadence(), f.Quiet(now.Add(24*time.Hour)), minSamples)
	}
	now = now.Add(2 * time.Minute)
	f.Observe(now, 2)
	if f.Cadence() != 2*time.Minute {
		t.Fatalf("cadence %v, want 2m", f.Cadence())
	}
	// A fast source is held to the floor, not to 6 × 2 minutes.
	if f.QuietAfter() != QuietFloor || f.Quiet(now.Add(QuietFloor)) || !f.Quiet(now.Add(QuietFloor+time.Second)) {
		t.Fatalf("quiet after %v, want the %v floor", f.QuietAfter(), QuietFloor)
	}
	// A slower rhythm moves the mean by a quarter of the difference.
	now = now.Add(42 * time.Minute)
	f.Observe(now, 1)
	if want := 12 * time.Minute; f.Cadence() != want {
		t.Fatalf("cadence %v, want %v", f.Cadence(), want)
	}
	if f.QuietAfter() != QuietFactor*12*time.Minute {
		t.Fatalf("quiet after %v", f.QuietAfter())
	}
	// Clocks that step back teach nothing.
	before := f
	f.Observe(now.Add(-time.Hour), 1)
	if f.CadenceSeconds != before.CadenceSeconds || f.Samples != before.Samples {
		t.Fatalf("a poll before the last new item changed the cadence: %+v", f)
	}
}

// Freshness rides in Health, so ReadHealth finds it in any collector's state.
func TestHealthCarriesFreshness(t *testing.T) {
	h := Health{Published: 4}
	h.Observe(time.Unix(1000, 0), 1)
	h.Observe(time.Unix(1600, 0), 1)
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadHealth(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Samples != 1 || got.CadenceSeconds != 600 || !got.LastNew.Equal(time.Unix(1600, 0)) {
		t.Fatalf("read back %+v from %s", got.Freshness, b)
	}
}
