// Package rss collects RSS 0.9x/1.0/2.0, Atom and JSON Feed sources and
// publishes their items as raw items, exactly once: each item's identity
// becomes its Nats-Msg-Id, and each feed's validators, seen-window and
// next poll live in the wire_source KV bucket so that a restart, or another
// collector taking over, resumes without re-publishing or missing items.
//
// A scheduler keeps one next-poll time per feed and hands due feeds to a
// fixed pool of workers, never more than PerHost at once to one host.
// Feeds that advertise a WebSub hub are also subscribed when a public
// callback is configured; polling goes on as the safety net.
package rss

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
	"github.com/newswire/newswire/wire"
)

// Feed is one configured feed.
type Feed struct {
	ID   string
	Code string
	Name string
	URL  string
	// Interval is the normal wait between polls; zero uses Config.Interval.
	Interval time.Duration
	// MaxBody overrides Config.MaxBody when set.
	MaxBody int64
	// NoWebSub keeps this feed off its hub even when WebSub is configured.
	NoWebSub bool
}

// Config configures the collector. Zero values take the defaults noted.
type Config struct {
	Feeds []Feed
	// UserAgent names the collector; Contact (a URL or mailto:) is added
	// to it so that a publisher can reach the operator.
	UserAgent string
	Contact   string
	// ConnectTimeout bounds dialing and the TLS handshake (10s),
	// HeaderTimeout the wait for response headers (20s), Timeout the
	// reading of the body (30s).
	ConnectTimeout time.Duration
	HeaderTimeout  time.Duration
	Timeout        time.Duration
	// MaxBody caps a decoded feed body (10 MiB).
	MaxBody int64
	// MaxRedirects is how many redirects one poll follows (5); negative
	// means none.
	MaxRedirects int
	// Interval is the poll interval of feeds that set none (5m).
	Interval time.Duration
	// BackoffMax caps the wait after failures (6h): a feed that keeps
	// failing is still tried this often.
	BackoffMax time.Duration
	// Jitter spreads every wait by ± this fraction (0.1); negative means none.
	Jitter float64
	// Workers is the number of polls in flight at once (32), PerHost the
	// number in flight to one host (2).
	Workers int
	PerHost int
	// WebSub, when its CallbackURL is set, subscribes feeds that advertise a hub.
	WebSub WebSubConfig
	// Egress says which addresses feeds, their redirects and WebSub hubs
	// may be fetched from; nil means public addresses only, so a feed
	// cannot point the collector at the operator's own network.
	Egress *egress.Policy
	// Clock is the scheduler's time source (the system clock).
	Clock Clock
	// Seed seeds the jitter; zero picks one from the clock.
	Seed uint64
}

// Stats counts what the collector did since it was built.
type Stats struct {
	Polls         int64 // fetches that got an answer or failed
	Fetched       int64 // 200 answers
	NotModified   int64 // 304 answers
	Failures      int64 // failed polls of any kind
	Published     int64 // items the bus stored
	BusDuplicates int64 // items the bus already had (Nats-Msg-Id)
	Unchanged     int64 // items skipped because the seen-window had them
	Moved         int64 // permanent redirects followed to a new URL
	StateErrors   int64 // states that could not be read or written
	InvalidUTF8   int64 // bodies with bytes that were not valid text
	Guessed       int64 // bodies that declared no charset and were read as GuessedCharset
	Pushes        int64 // WebSub deliveries taken
	PushRejected  int64 // WebSub deliveries refused (bad signature, unknown feed, bad body)
	Refused       int64 // fetches and hub requests refused by the egress policy
}

type counters struct {
	polls, fetched, notModified, failures, published, busDup, unchanged,
	moved, stateErrors, invalidUTF8, guessed, pushes, pushRejected, refused atomic.Int64
}

// Collector polls feeds and publishes their new items.
type Collector struct {
	cfg    Config
	pub    ingest.Publisher
	kv     stateKV
	log    *zap.Logger
	clock  Clock
	fetch  *fetcher
	plan   *planner
	feeds  []*feedRun
	byKey  map[string]*feedRun
	stats  counters
	websub *websub
}

// feedRun is a feed and its state while the collector runs. mu is held
// for the whole of a poll or a WebSub delivery, so the two never interleave.
type feedRun struct {
	feed Feed
	mu   sync.Mutex
	st   *State
	// dated and ttl come from the last document parsed; they steer the
	// schedule after a 304.
	dated []time.Time
	ttl   time.Duration

	// Owned by the dispatcher.
	next  time.Time
	index int
	host  string
}

// ErrNoFeeds is returned by New without feeds.
var ErrNoFeeds = errors.New("rss: no feeds configured")

// ErrBadFeed is returned by New for a feed without id or http(s) URL, or
// whose id collides with another's.
var ErrBadFeed = errors.New("rss: bad feed")

// New returns a collector publishing to pub and keeping state in kv (the
// wire_source bucket). log nil means no logging.
func New(cfg Config, pub ingest.Publisher, kv stateKV, log *zap.Logger) (*Collector, error) {
	if len(cfg.Feeds) == 0 {
		return nil, ErrNoFeeds
	}
	if pub == nil || kv == nil {
		return nil, errors.New("rss: a publisher and a state bucket are required")
	}
	if log == nil {
		log = zap.NewNop()
	}
	applyDefaults(&cfg)
	c := &Collector{cfg: cfg, pub: pub, kv: kv, log: log.Named("rss"), clock: cfg.Clock, byKey: make(map[string]*feedRun, len(cfg.Feeds))}
	c.fetch = newFetcher(cfg, cfg.Clock.Now)
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(cfg.Clock.Now().UnixNano())
	}
	c.plan = newPlanner(cfg.Jitter, cfg.BackoffMax, seed)
	for _, f := range cfg.Feeds {
		u, err := url.Parse(f.URL)
		if f.ID == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: %q needs an id and an http(s) url, not %q", ErrBadFeed, f.ID, f.URL)
		}
		key := StateKey(f.ID)
		if other, dup := c.byKey[key]; dup {
			return nil, fmt.Errorf("%w: ids %q and %q map to the same state key %s", ErrBadFeed, other.feed.ID, f.ID, key)
		}
		if f.Interval <= 0 {
			f.Interval = cfg.Interval
		}
		if f.MaxBody <= 0 {
			f.MaxBody = cfg.MaxBody
		}
		fr := &feedRun{feed: f}
		c.feeds = append(c.feeds, fr)
		c.byKey[key] = fr
	}
	if cfg.WebSub.CallbackURL != "" {
		ws, err := newWebSub(cfg.WebSub, c)
		if err != nil {
			return nil, err
		}
		c.websub = ws
	}
	return c, nil
}

func applyDefaults(cfg *Config) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if cfg.Contact != "" && !strings.Contains(cfg.UserAgent, cfg.Contact) {
		cfg.UserAgent += " (contact: " + cfg.Contact + ")"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, 10*time.Second)
	def(&cfg.HeaderTimeout, 20*time.Second)
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.Interval, 5*time.Minute)
	def(&cfg.BackoffMax, 6*time.Hour)
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 10 << 20
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = 5
	case cfg.MaxRedirects < 0:
		cfg.MaxRedirects = 0
	}
	switch {
	case cfg.Jitter == 0:
		cfg.Jitter = 0.1
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 32
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = 2
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.WebSub.Lease <= 0 {
		cfg.WebSub.Lease = 10 * 24 * time.Hour
	}
}

// Stats returns the collector's counters.
func (c *Collector) Stats() Stats {
	s := &c.stats
	return Stats{
		Polls: s.polls.Load(), Fetched: s.fetched.Load(), NotModified: s.notModified.Load(),
		Failures: s.failures.Load(), Published: s.published.Load(), BusDuplicates: s.busDup.Load(),
		Unchanged: s.unchanged.Load(), Moved: s.moved.Load(), StateErrors: s.stateErrors.Load(),
		InvalidUTF8: s.invalidUTF8.Load(), Guessed: s.guessed.Load(), Pushes: s.pushes.Load(), PushRejected: s.pushRejected.Load(),
		Refused: s.refused.Load(),
	}
}

type pollDone struct {
	fr   *feedRun
	next time.Time
}

// Run loads every feed's state and polls feeds as they fall due until ctx
// ends. It returns an error only when the state bucket cannot be read.
func (c *Collector) Run(ctx context.Context) error {
	defer c.fetch.close()
	if err := c.loadStates(ctx); err != nil {
		return err
	}
	var side sync.WaitGroup
	if c.websub != nil {
		side.Go(func() { c.websub.serve(ctx) })
	}
	work := make(chan *feedRun)
	// Buffered so that workers finishing after the dispatcher stopped
	// listening can still hand their result over and exit.
	done := make(chan pollDone, c.cfg.Workers)
	var workers sync.WaitGroup
	for range c.cfg.Workers {
		workers.Go(func() {
			for fr := range work {
				done <- pollDone{fr: fr, next: c.poll(ctx, fr)}
			}
		})
	}
	c.dispatch(ctx, work, done)
	close(work)
	workers.Wait()
	side.Wait()
	return nil
}

// loadStates reads the stored state of every feed, several at a time.
func (c *Collector) loadStates(ctx context.Context) error {
	sem := make(chan struct{}, min(c.cfg.Workers, 64))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, fr := range c.feeds {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.loadState(ctx, fr)
			if err != nil {
				mu.Lock()
				firstErr = cmpOr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (c *Collector) loadState(ctx context.Context, fr *feedRun) error {
	f := fr.feed
	st, err := LoadState(ctx, c.kv, f.ID)
	switch {
	case errors.Is(err, ErrNoState):
		st = &State{}
	case errors.Is(err, errBadState):
		// Unreadable state cannot be trusted; starting over re-offers the
		// feed's current items, which the bus's duplicate window and the
		// normalizer's fingerprints absorb.
		c.stats.stateErrors.Add(1)
		c.log.Error("stored feed state unreadable, starting it afresh", zap.String("feed", f.ID), zap.Error(err))
		st = &State{}
	case err != nil:
		return err
	}
	if st.ConfiguredURL != f.URL {
		if st.ConfiguredURL != "" {
			c.log.Info("feed URL changed in the configuration; dropping stored URL and validators",
				zap.String("feed", f.ID), zap.String("was", st.ConfiguredURL), zap.String("now", f.URL))
		}
		st.ConfiguredURL, st.URL, st.ETag, st.LastModified = f.URL, f.URL, "", ""
	}
	st.Source = f.ID
	fr.st = st
	fr.next = st.NextPoll
	fr.host = hostOf(st.URL)
	return nil
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return strings.ToLower(u.Host)
	}
	return raw
}

// dispatch hands due feeds to the workers, at most PerHost per host at
// once, and files each feed back under its next poll time.
func (c *Collector) dispatch(ctx context.Context, work chan<- *feedRun, done <-chan pollDone) {
	h := make(feedHeap, 0, len(c.feeds))
	for _, fr := range c.feeds {
		h = append(h, fr)
	}
	heap.Init(&h)
	inflight := make(map[string]int)
	pending := make(map[string][]*feedRun)
	var ready []*feedRun
	var timerC <-chan time.Time
	var timerAt time.Time
	for {
		now := c.clock.Now()
		for len(h) > 0 && !h[0].next.After(now) {
			fr := heap.Pop(&h).(*feedRun)
			if inflight[fr.host] < c.cfg.PerHost {
				inflight[fr.host]++
				ready = append(ready, fr)
			} else {
				pending[fr.host] = append(pending[fr.host], fr)
			}
		}
		if len(h) > 0 && (timerC == nil || !h[0].next.Equal(timerAt)) {
			timerAt = h[0].next
			timerC = c.clock.After(timerAt.Sub(now))
		}
		var out chan<- *feedRun
		var first *feedRun
		if len(ready) > 0 {
			out, first = work, ready[0]
		}
		select {
		case <-ctx.Done():
			return
		case out <- first:
			ready[0] = nil
			ready = ready[1:]
		case d := <-done:
			host := d.fr.host
			inflight[host]--
			if q := pending[host]; len(q) > 0 {
				ready = append(ready, q[0])
				inflight[host]++
				if len(q) == 1 {
					delete(pending, host)
				} else {
					pending[host] = q[1:]
				}
			} else if inflight[host] <= 0 {
				delete(inflight, host)
			}
			d.fr.next = d.next
			// A permanent redirect may have moved the feed to another host;
			// the slot above was taken under the old one.
			d.fr.host = hostOf(d.fr.urlNow())
			heap.Push(&h, d.fr)
		case <-timerC:
			timerC = nil
		}
	}
}

func (fr *feedRun) urlNow() string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.st.URL
}

// poll fetches one feed, publishes what is new and stores the state; it
// returns the time of the next poll.
func (c *Collector) poll(ctx context.Context, fr *feedRun) time.Time {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	st := fr.st
	f := fr.feed
	now := c.clock.Now()
	resp, err := c.fetch.fetch(ctx, st.URL, st.ETag, st.LastModified, f.MaxBody)
	if ctx.Err() != nil {
		// Shutting down: the poll did not happen, and the stored next
		// poll still says when it is due.
		return st.NextPoll
	}
	c.stats.polls.Add(1)
	st.Polls++
	st.LastPoll = now.UTC()
	if resp != nil {
		st.LastStatus = resp.Status
	}
	if err != nil {
		return c.failed(ctx, fr, now, err)
	}
	if resp.PermanentURL != "" && resp.PermanentURL != st.URL {
		c.stats.moved.Add(1)
		c.log.Warn("feed moved permanently; polling the new URL from now on",
			zap.String("feed", f.ID), zap.String("from", st.URL), zap.String("to", resp.PermanentURL))
		st.URL = resp.PermanentURL
		// Validators belong to the old URL's representation.
		st.ETag, st.LastModified = "", ""
	}
	if resp.NotModified {
		c.stats.notModified.Add(1)
		// A 304 refreshes the stored validators it carries (RFC 9111 §4.3.4).
		if resp.ETag != "" {
			st.ETag = resp.ETag
		}
		if resp.LastModified != "" {
			st.LastModified = resp.LastModified
		}
		if c.websub != nil && !f.NoWebSub && st.WebSub != nil {
			c.websub.ensure(ctx, fr, st.WebSub.Hub, st.WebSub.Topic, now)
		}
		return c.succeeded(ctx, fr, now, resp, 0)
	}
	c.stats.fetched.Add(1)
	doc, err := c.decode(f, resp)
	if err != nil {
		return c.failed(ctx, fr, now, err)
	}
	n, dated, err := c.publish(ctx, fr, doc, resp, now)
	if err != nil {
		// The validators are kept as they were: the next poll must get
		// the document again to publish what did not make it.
		return c.failed(ctx, fr, now, err)
	}
	st.ETag, st.LastModified = resp.ETag, resp.LastModified
	st.Items = len(doc.feed.Items)
	guessed := ""
	if doc.charsetGuessed {
		guessed = GuessedCharset
	}
	if guessed != st.CharsetGuessed && guessed != "" {
		c.log.Warn("feed declares no character set and is not UTF-8; reading it as "+GuessedCharset,
			zap.String("feed", f.ID), zap.String("url", st.URL))
	}
	st.CharsetGuessed = guessed
	fr.dated, fr.ttl = dated, doc.TTL
	if c.websub != nil && !f.NoWebSub {
		hub, topic := doc.Hub, doc.Self
		if hub == "" {
			hub = linkHeader(resp.Header, "hub")
		}
		if topic == "" {
			topic = cmpOrString(linkHeader(resp.Header, "self"), st.URL)
		}
		if hub != "" {
			c.websub.ensure(ctx, fr, hub, topic, now)
		}
	}
	return c.succeeded(ctx, fr, now, resp, n)
}

// decode turns a 200 body into a parsed document.
func (c *Collector) decode(f Feed, resp *response) (*document, error) {
	dec, err := toUTF8(resp.Body, resp.ContentType)
	if err != nil {
		return nil, err
	}
	if dec.repaired {
		c.stats.invalidUTF8.Add(1)
		c.log.Debug("feed body had invalid UTF-8; replaced with U+FFFD", zap.String("feed", f.ID))
	}
	if dec.guessed {
		c.stats.guessed.Add(1)
	}
	doc, err := parseDocument(dec.body)
	if err != nil {
		return nil, err
	}
	doc.charsetGuessed = dec.guessed
	return doc, nil
}

// publish publishes the document's items the seen-window does not hold,
// oldest first, and records each in the window once the bus has it. It
// returns the number published and the items' dates.
func (c *Collector) publish(ctx context.Context, fr *feedRun, doc *document, resp *response, now time.Time) (int, []time.Time, error) {
	st := fr.st
	cands := candidates(fr.feed, doc, now.UTC())
	seen := newSeenWindow(st.Seen)
	fetch := &wire.Fetch{URL: st.URL, Status: resp.Status, ETag: resp.ETag}
	usedPlain := make(map[string]bool)
	published := 0
	var dated []time.Time
	var pubErr error
	for _, cand := range cands {
		if !cand.dated.IsZero() {
			dated = append(dated, cand.dated)
		}
		key, hash := cand.key, ""
		if cand.alt != "" {
			// A GUID shared inside the document: an item is known when the
			// plain GUID was recorded with the same content, or its
			// disambiguated identity was.
			if (seen.has(cand.key) && seen.hash[cand.key] == cand.hash) || seen.has(cand.altKey) {
				c.stats.unchanged.Add(1)
				continue
			}
			hash = cand.hash
			if seen.has(cand.key) || usedPlain[cand.key] {
				key = cand.altKey
				cand.raw.NativeID = cand.alt
			}
			usedPlain[cand.key] = true
		} else if seen.has(cand.key) {
			c.stats.unchanged.Add(1)
			continue
		}
		if pubErr != nil {
			continue
		}
		item := cand.raw
		item.Fetch = fetch
		ack, err := c.pub.Publish(ctx, item)
		if err != nil {
			pubErr = fmt.Errorf("rss: publish %s: %w", bus.RawMsgID(Kind, fr.feed.ID, item.NativeID), err)
			continue
		}
		seen.add(key, hash)
		if ack.Duplicate {
			c.stats.busDup.Add(1)
		} else {
			published++
			c.stats.published.Add(1)
		}
	}
	st.Seen = seen.entries(max(2*len(cands), 2*st.Items, 256))
	st.Published += int64(published)
	return published, dated, pubErr
}

func (c *Collector) succeeded(ctx context.Context, fr *feedRun, now time.Time, resp *response, published int) time.Time {
	st := fr.st
	wait := c.plan.afterSuccess(now, fr.feed.Interval, fr.dated, cacheFloor(resp.Header, now, fr.ttl))
	st.Errors, st.LastError = 0, ""
	st.LastSuccess = now.UTC()
	st.Observe(now, published)
	st.NextPoll = now.Add(wait).UTC()
	st.IntervalSeconds = int64(wait / time.Second)
	c.save(ctx, fr)
	c.log.Debug("polled", zap.String("feed", fr.feed.ID), zap.Int("status", resp.Status),
		zap.Int("published", published), zap.Time("next_poll", st.NextPoll))
	return st.NextPoll
}

func (c *Collector) failed(ctx context.Context, fr *feedRun, now time.Time, err error) time.Time {
	st := fr.st
	if ctx.Err() != nil {
		// Shutdown cut the poll short; that is no fault of the feed. What
		// was published is in the seen-window, and the validators were
		// kept, so the next run fetches the document again.
		c.save(ctx, fr)
		return st.NextPoll
	}
	c.stats.failures.Add(1)
	if errors.Is(err, egress.ErrRefused) {
		c.stats.refused.Add(1)
	}
	st.Errors++
	st.LastError = err.Error()
	st.LastErrorAt = now.UTC()
	var se *StatusError
	var retryAfter time.Duration
	if errors.As(err, &se) {
		retryAfter = se.RetryAfter
	}
	wait := c.plan.afterFailure(fr.feed.Interval, st.Errors, retryAfter)
	st.NextPoll = now.Add(wait).UTC()
	st.IntervalSeconds = int64(wait / time.Second)
	c.save(ctx, fr)
	c.log.Warn("poll failed", zap.String("feed", fr.feed.ID), zap.String("url", st.URL),
		zap.Int("errors", st.Errors), zap.Time("next_poll", st.NextPoll), zap.Error(err))
	return st.NextPoll
}

// save stores the feed's state. It outlives a cancelled ctx briefly so
// that a poll finished during shutdown is not forgotten.
func (c *Collector) save(ctx context.Context, fr *feedRun) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := saveState(sctx, c.kv, fr.feed.ID, fr.st); err != nil {
		c.stats.stateErrors.Add(1)
		c.log.Error("feed state not saved; items may be offered again after a restart (the bus drops repeats within its duplicate window)",
			zap.String("feed", fr.feed.ID), zap.Error(err))
	}
}

// feedHeap orders feeds by next poll.
type feedHeap []*feedRun

func (h feedHeap) Len() int           { return len(h) }
func (h feedHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h feedHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *feedHeap) Push(x any) {
	fr := x.(*feedRun)
	fr.index = len(*h)
	*h = append(*h, fr)
}
func (h *feedHeap) Pop() any {
	old := *h
	fr := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return fr
}
