package rss

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
)

// benchFeeds is the feed server of the benchmark: feed i answers 304 to
// its current ETag, except that every third feed has a new item each
// cycle and so answers 200 with its five newest items.
type benchFeeds struct {
	cycle atomic.Int64
}

func (s *benchFeeds) version(i int) int64 {
	if i%3 == 0 {
		return s.cycle.Load()
	}
	return 0
}

func (s *benchFeeds) body(i int, v int64) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed %d</title><link>https://f%d.example.org/</link><description>bench</description><ttl>5</ttl>`, i, i)
	for k := v + 4; k >= v; k-- {
		fmt.Fprintf(&b, `<item><title>Feed %d story %d</title><link>https://f%d.example.org/s/%d</link><guid>f%d-s%d</guid><description>&lt;p&gt;Body of story %d of feed %d, long enough to look like a summary line.&lt;/p&gt;</description><pubDate>%s</pubDate></item>`,
			i, k, i, k, i, k, k, i, time.Unix(1718000000+k*600, 0).UTC().Format(time.RFC1123Z))
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

func (s *benchFeeds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	v := s.version(i)
	etag := fmt.Sprintf(`"%d-%d"`, i, v)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Write(s.body(i, v))
}

// BenchmarkCycle10k polls 10,000 feeds spread over 20 local hosts (ports)
// in one scheduler cycle, with the default pool (32 workers, 2 per host),
// against a real embedded JetStream: two thirds answer 304, one third 200
// with one new item among five. Each iteration starts from stored state,
// as a restarted collector would, and ends when every feed was polled.
func BenchmarkCycle10k(b *testing.B) {
	const nFeeds, nHosts = 10000, 20
	srv := bustest.Start(b)
	ctx := context.Background()
	kv, err := srv.JS.KeyValue(ctx, "wire_source")
	if err != nil {
		b.Fatal(err)
	}
	feeds := &benchFeeds{}
	var hosts []*httptest.Server
	for range nHosts {
		h := httptest.NewUnstartedServer(feeds)
		h.Config.ErrorLog = nil
		h.Listener.Close()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		h.Listener = l
		h.Start()
		defer h.Close()
		hosts = append(hosts, h)
	}
	var cfgFeeds []Feed
	for i := range nFeeds {
		cfgFeeds = append(cfgFeeds, Feed{ID: fmt.Sprintf("bench-%05d", i), URL: fmt.Sprintf("%s/f/%d", hosts[i%nHosts].URL, i), Interval: 10 * time.Minute})
	}
	pub := ingest.NewJetStreamPublisher(srv.JS)

	// Each cycle runs a fresh collector on a clock a day further on, so
	// that every feed is due; the first (untimed) cycle stores every feed's
	// ETag and seen-window.
	runCycle := func(b *testing.B) (time.Duration, Stats) {
		clock := shiftedClock{offset: 24 * time.Hour * time.Duration(feeds.cycle.Load()+1)}
		c, err := New(Config{Feeds: cfgFeeds, Clock: clock, Egress: allowLoopback}, pub, kv, nil)
		if err != nil {
			b.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.Run(rctx) }()
		for c.Stats().Polls < nFeeds {
			time.Sleep(2 * time.Millisecond)
		}
		elapsed := time.Since(start)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		return elapsed, c.Stats()
	}
	runCycle(b)

	var total time.Duration
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	var last Stats
	b.ResetTimer()
	for range b.N {
		feeds.cycle.Add(1)
		d, st := runCycle(b)
		total += d
		last = st
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	if last.Failures != 0 || last.Fetched < nFeeds/3 || last.NotModified < nFeeds/2 {
		b.Fatalf("cycle stats %+v", last)
	}
	cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()+after.Stime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(nFeeds)/per.Seconds(), "polls/s")
	b.ReportMetric(cpu.Seconds(), "cpu-s/cycle")
	b.ReportMetric(float64(after.Maxrss)/1024, "peak-rss-MiB")
	b.ReportMetric(float64(last.Published), "items/cycle")
	b.ReportMetric(float64(last.NotModified), "304/cycle")
}

// shiftedClock is the system clock moved forward, so that every feed is
// due again at the start of each benchmark cycle.
type shiftedClock struct{ offset time.Duration }

func (s shiftedClock) Now() time.Time                         { return time.Now().Add(s.offset) }
func (s shiftedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
