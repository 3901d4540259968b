package rss

import (
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is the time source of the scheduler; tests inject their own.
type Clock interface {
	Now() time.Time
	// After delivers once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Bounds of the scheduler. Floors a server asks for (ttl, max-age,
// Expires) are honoured up to maxFloor so that a bogus value cannot stop a
// feed for months; Retry-After likewise, and never below minRetry so a
// server answering "Retry-After: 0" is not hammered.
const (
	maxFloor = 24 * time.Hour
	minRetry = 30 * time.Second
	maxRetry = 24 * time.Hour
	// adaptDown and adaptUp bound the adaptive interval around the
	// configured one.
	adaptDown = 4
	adaptUp   = 8
	// rateItems is how many of the newest dated items estimate the rate.
	rateItems = 20
)

// planner computes waits. It is used only by the goroutine that holds the
// feed, so the random source needs no lock of its own beyond rnd's.
type planner struct {
	jitter     float64
	backoffMax time.Duration
	rnd        func() float64
}

func newPlanner(jitter float64, backoffMax time.Duration, seed uint64) *planner {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	lr := &lockedRand{r: r}
	return &planner{jitter: jitter, backoffMax: backoffMax, rnd: lr.float}
}

// jittered spreads d by ±jitter so feeds do not poll in lockstep.
func (p *planner) jittered(d time.Duration) time.Duration {
	if p.jitter <= 0 {
		return d
	}
	f := 1 + p.jitter*(2*p.rnd()-1)
	return time.Duration(float64(d) * f)
}

// afterSuccess is the wait after a poll that worked: the interval adapted
// to the feed's publishing rate, jittered, but never sooner than the floor
// the feed or server asked for.
func (p *planner) afterSuccess(now time.Time, base time.Duration, dated []time.Time, floor time.Duration) time.Duration {
	d := p.jittered(adaptive(now, base, dated))
	return max(d, min(floor, maxFloor))
}

// afterFailure is the wait after the n-th consecutive failure: the
// server's Retry-After when it gave one, else exponential backoff from the
// interval, capped at backoffMax.
func (p *planner) afterFailure(base time.Duration, n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(max(retryAfter, minRetry), maxRetry)
	}
	d := base
	for i := 0; i < n && d < p.backoffMax; i++ {
		d *= 2
	}
	return p.jittered(min(d, p.backoffMax))
}

// adaptive estimates the feed's rate from its newest dated items and polls
// about twice per expected item, within [base/adaptDown, base*adaptUp].
// The open interval since the newest item counts too, so a feed that went
// quiet is polled less and less often.
func adaptive(now time.Time, base time.Duration, dated []time.Time) time.Duration {
	ts := make([]time.Time, 0, len(dated))
	for _, t := range dated {
		if !t.IsZero() && !t.After(now.Add(time.Hour)) {
			ts = append(ts, t)
		}
	}
	if len(ts) < 3 {
		return base
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].After(ts[j]) })
	ts = ts[:min(len(ts), rateItems)]
	span := now.Sub(ts[len(ts)-1])
	if span <= 0 {
		return base / adaptDown
	}
	d := span / time.Duration(len(ts)) / 2
	return min(max(d, base/adaptDown), base*adaptUp)
}

// cacheFloor is the soonest the server or the feed allows the next poll:
// RSS <ttl>, Cache-Control max-age, or Expires.
func cacheFloor(h http.Header, now time.Time, ttl time.Duration) time.Duration {
	floor := ttl
	cc := strings.ToLower(h.Get("Cache-Control"))
	sawMaxAge := false
	for _, part := range strings.Split(cc, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == "max-age" {
			if n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64); err == nil && n > 0 {
				floor = max(floor, time.Duration(min(n, int64(maxFloor/time.Second)))*time.Second)
				sawMaxAge = true
			}
		}
	}
	// max-age overrides Expires (RFC 9111 §5.3).
	if !sawMaxAge {
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil {
			ref := now
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				ref = d
			}
			if exp.After(ref) {
				floor = max(floor, exp.Sub(ref))
			}
		}
	}
	return floor
}

// lockedRand lets the workers share one seeded source.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}
