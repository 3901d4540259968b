package ingest

import (
	"fmt"
	"time"
)

// Freshness learns how often a source brings something new and tells when
// it has been quiet for far longer than that. Collectors keep it in the
// source's stored state (it is part of Health), so it survives restarts
// and every process that reads wire_source sees it. Only successful polls
// are observed: a poll that fails is the failing-source alert's business,
// while a feed that answers 200 (or 304) and stops changing is this one's.
type Freshness struct {
	// LastNew is when a poll last found a new item.
	LastNew time.Time `json:"last_new,omitzero"`
	// CadenceSeconds is an exponentially weighted mean of the intervals
	// between polls that found new items: the source's usual rhythm, as
	// fine as the polls that observe it.
	CadenceSeconds float64 `json:"cadence_seconds,omitempty"`
	// Samples counts the intervals learned, up to a small cap.
	Samples int `json:"cadence_samples,omitempty"`
}

const (
	// cadenceWeight is the weight of the newest interval in the mean: a
	// source that changes its rhythm is relearned in a handful of items.
	cadenceWeight = 0.25
	// minSamples intervals must be learned before a source can be quiet;
	// a new source is never flagged.
	minSamples = 3
	// QuietFactor times the cadence of silence makes a source quiet, and
	// never less than QuietFloor, so a fast source is not flagged for a
	// lull of a few polls.
	QuietFactor = 6
	QuietFloor  = 30 * time.Minute
	maxSamples  = 1000
)

// Observe records a successful poll at now that found newItems new items.
func (f *Freshness) Observe(now time.Time, newItems int) {
	if newItems <= 0 {
		return
	}
	now = now.UTC()
	if !f.LastNew.IsZero() && now.After(f.LastNew) {
		iv := now.Sub(f.LastNew).Seconds()
		if f.Samples == 0 {
			f.CadenceSeconds = iv
		} else {
			f.CadenceSeconds += cadenceWeight * (iv - f.CadenceSeconds)
		}
		f.Samples = min(f.Samples+1, maxSamples)
	}
	f.LastNew = now
}

// Cadence is the learned interval between new items (zero until learned).
func (f Freshness) Cadence() time.Duration {
	if f.Samples < minSamples {
		return 0
	}
	return time.Duration(f.CadenceSeconds * float64(time.Second))
}

// QuietAfter is how long a silence must last for the source to be quiet
// (zero while the cadence is still being learned).
func (f Freshness) QuietAfter() time.Duration {
	c := f.Cadence()
	if c == 0 {
		return 0
	}
	return max(QuietFactor*c, QuietFloor)
}

// Quiet reports whether, at now, the source has brought nothing new for
// longer than QuietAfter.
func (f Freshness) Quiet(now time.Time) bool {
	after := f.QuietAfter()
	return after > 0 && now.Sub(f.LastNew) > after
}

// Describe says how quiet the source is, for listings: "" when it is not.
func (f Freshness) Describe(now time.Time) string {
	if !f.Quiet(now) {
		return ""
	}
	return fmt.Sprintf("quiet: nothing new for %s, usually every %s",
		now.Sub(f.LastNew).Round(time.Minute), f.Cadence().Round(time.Second))
}
