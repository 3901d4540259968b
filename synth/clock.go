package synth

import "time"

// Periods of the clusterer's housekeeping on the stream clock. Expiry is
// cheap next to a join, and runs every minute, or every quarter of
// stale_after when that is shorter, so that a story is out of memory at
// most a quarter later than it went stale; forgetting terms walks the
// whole vocabulary, and an hour is a small step of a df half-life of
// hours or days.
const (
	expirePeriod = time.Minute
	forgetPeriod = time.Hour
)

// expiryPeriod is how often expire runs: expirePeriod, or a quarter of
// StaleAfter when that is shorter.
func (c *Clusterer) expiryPeriod() time.Duration {
	return min(expirePeriod, max(c.cfg.StaleAfter/4, time.Second))
}

// schedule runs a periodic task on the stream clock (the latest observed
// time seen), not on how many entries came in: an entry counter starts
// from zero in every process, so a clusterer rebuilt after a restart
// would run its tasks at other entries than one that never stopped, and
// decide differently. Periods are aligned to absolute time (multiples of
// the period since the zero time), so that every run over the same
// stream places them at the same entries wherever the run began.
type schedule struct {
	// last is the start of the period the task last ran in; zero until
	// the clock first moves.
	last time.Time
}

// due reports whether the clock has entered a later period than the one
// the task last ran in, and if so counts the task as run in this one. A
// clock that jumps over several periods runs the task once: each task
// looks at the state as of the clock, so catching up on the periods in
// between would only repeat it. The first reading only starts the
// schedule; a clusterer with no entries has nothing to tidy.
// A period of zero or less never runs.
func (s *schedule) due(clock time.Time, every time.Duration) bool {
	if every <= 0 || clock.IsZero() {
		return false
	}
	p := clock.Truncate(every)
	if s.last.IsZero() {
		s.last = p
		return false
	}
	if !p.After(s.last) {
		return false
	}
	s.last = p
	return true
}

// runDue runs the housekeeping whose period the stream clock has just
// left, before the entry that moved the clock is placed: expiry first,
// so that stories the new clock made stale are out of the index before
// anything looks for a home; then the vocabulary; then the merge pass
// over what changed since the last one.
func (c *Clusterer) runDue() {
	if c.expiry.due(c.clock, c.expiryPeriod()) {
		c.expire()
	}
	if c.vocab.due(c.clock, forgetPeriod) {
		c.forgetTerms()
	}
	if c.passing.due(c.clock, c.cfg.MergePassInterval) {
		c.mergePass()
	}
}
