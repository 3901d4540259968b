// Package tgweb reads public Telegram channels without an account, from
// the web preview at https://t.me/s/<channel>, and publishes their posts
// as raw items of kind "telegram" with the same native ids and URLs as
// ingest/telegram, so a post both collectors see becomes one entry.
// See README.md for options, limits and failure modes.
package tgweb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Kind is the raw item kind, shared with ingest/telegram.
const Kind = "telegram"

// Errors a poll can end with.
var (
	// ErrNoPublicPreview: t.me redirects the preview to the channel's
	// landing page, which it does for channels that disabled the preview,
	// private channels, groups and unknown names.
	ErrNoPublicPreview = errors.New("tgweb: channel has no public preview")
	// ErrThrottled: the server answered 429 or 503; the source waits for
	// Retry-After (or its backoff) before the next request.
	ErrThrottled = errors.New("tgweb: throttled by server")
)

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// Channel is one configured source.
type Channel struct {
	ID       string
	Username string
	Code     string
	Name     string
	// Interval between polls (default 5m). MaxPages bounds how far one poll
	// pages back (default 10 pages of about 20 posts).
	Interval time.Duration
	MaxPages int
	// BaseURL is where this channel's preview is read (default
	// Config.BaseURL): <BaseURL>/s/<username>.
	BaseURL string
}

// Config configures the collector.
type Config struct {
	Channels []Channel
	// BaseURL is where the previews live unless a channel says otherwise
	// (default https://t.me).
	BaseURL   string
	UserAgent string
	Timeout   time.Duration
	MaxBody   int64
	// HostInterval is the least time between two requests to one host,
	// over all channels (default 3s).
	HostInterval time.Duration
	// MaxBackoff caps the wait after repeated failures (default 6h); a
	// channel without a public preview is retried after FailingRetry
	// (default 12h).
	MaxBackoff   time.Duration
	FailingRetry time.Duration
	Now          func() time.Time
}

// State is what the collector keeps per source in wire_source under
// StateKey(source id).
type State struct {
	Username     string `json:"username"`
	LastID       int    `json:"last_id"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Gaps counts post ids between the last seen post and the newest that
	// the preview did not show (deleted, service messages, or beyond
	// max_pages); the preview cannot be asked for them one by one.
	Gaps      int64 `json:"gaps"`
	NoPreview bool  `json:"no_preview,omitempty"`
	// Health holds the fields every collector writes for operators
	// (errors, last poll and success, next poll, published, failing).
	ingest.Health
	// Known holds the ids of published posts (oldest first, at most
	// maxKnown) that the newest page can still show, to notice one that
	// disappears from it (see withdraw.go). A withdrawn id leaves the list,
	// which keeps a restart from withdrawing it twice; Withdrawn counts
	// the withdrawals published.
	Known     []int `json:"known_ids,omitempty"`
	Withdrawn int64 `json:"withdrawn"`
}

// StateKey is the wire_source key of a tgweb source.
func StateKey(sourceID string) string { return "tgweb." + bus.Token(sourceID) }

// ChannelStats are a source's counters since start.
type ChannelStats struct {
	Published, Duplicates, Skipped, Malformed, Pages, NotModified, Errors int64
	Gaps                                                                  int64
	// Withdrawn counts withdrawals published for posts gone from the page.
	Withdrawn int64
	LastID    int
}

// Collector polls channel previews.
type Collector struct {
	cfg    Config
	pub    ingest.Publisher
	kv     StateStore
	client *http.Client
	log    *zap.Logger

	mu    sync.Mutex
	hosts map[string]*hostGate
	stats map[string]*ChannelStats
}

// hostGate spaces requests to one host and holds them back after a
// Retry-After.
type hostGate struct {
	limiter   *rate.Limiter
	mu        sync.Mutex
	notBefore time.Time
}

// DefaultBaseURL is where Telegram serves channel previews.
const DefaultBaseURL = "https://t.me"

// ErrBaseURL reports a base URL previews cannot be read from.
var ErrBaseURL = errors.New("tgweb: base URL must be an absolute http(s) URL without query or fragment")

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: %q", ErrBaseURL, s)
	}
	return nil
}

// New checks cfg and returns a collector. client may be nil.
func New(cfg Config, pub ingest.Publisher, kv StateStore, client *http.Client, log *zap.Logger) (*Collector, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.Channels) == 0 {
		return nil, errors.New("tgweb: no channels configured")
	}
	if pub == nil || kv == nil {
		return nil, errors.New("tgweb: a publisher and the wire_source bucket are required")
	}
	for i, ch := range cfg.Channels {
		if ch.ID == "" || ch.Username == "" {
			return nil, fmt.Errorf("tgweb: channel %d needs an id and a username", i)
		}
		if ch.Interval <= 0 {
			cfg.Channels[i].Interval = 5 * time.Minute
		}
		if ch.MaxPages <= 0 {
			cfg.Channels[i].MaxPages = 10
		}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if err := checkBaseURL(cfg.BaseURL); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	for i, ch := range cfg.Channels {
		if ch.BaseURL == "" {
			cfg.Channels[i].BaseURL = cfg.BaseURL
			continue
		}
		if err := checkBaseURL(ch.BaseURL); err != nil {
			return nil, fmt.Errorf("tgweb: channel %s: %w", ch.ID, err)
		}
		cfg.Channels[i].BaseURL = strings.TrimSuffix(ch.BaseURL, "/")
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 4 << 20
	}
	if cfg.HostInterval <= 0 {
		cfg.HostInterval = 3 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 6 * time.Hour
	}
	if cfg.FailingRetry <= 0 {
		cfg.FailingRetry = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	// Redirects are read, not followed: a preview that redirects to the
	// channel's landing page means there is no preview, and following it
	// would parse the wrong page.
	c2 := *client
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Collector{cfg: cfg, pub: pub, kv: kv, client: &c2, log: log.Named("tgweb"),
		hosts: map[string]*hostGate{}, stats: map[string]*ChannelStats{}}
	for _, ch := range cfg.Channels {
		c.stats[ch.ID] = &ChannelStats{}
	}
	return c, nil
}

// Stats returns a copy of every source's counters.
func (c *Collector) Stats() map[string]ChannelStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]ChannelStats, len(c.stats))
	for id, s := range c.stats {
		out[id] = *s
	}
	return out
}

func (c *Collector) stat(id string, f func(*ChannelStats)) {
	c.mu.Lock()
	f(c.stats[id])
	c.mu.Unlock()
}

// Run polls every channel on its interval until ctx ends. A channel whose
// stored next poll is still ahead (a restart) waits for it, as the RSS
// collector does, so that restarting does not poll every channel at once.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, ch := range c.cfg.Channels {
		wg.Go(func() {
			// Spread the first polls so that start-up is not a burst.
			wait := time.Duration(i) * c.cfg.HostInterval / 2
			if due := c.storedWait(ctx, ch); due > wait {
				c.log.Info("waiting for the stored next poll", zap.String("source", ch.ID), zap.Duration("wait", due))
				wait = due
			}
			if ingest.Sleep(ctx, wait) != nil {
				return
			}
			c.loop(ctx, ch)
		})
	}
	wg.Wait()
	return nil
}

// storedWait is how long until the stored next poll of ch, 0 when it is
// due, unknown, for another channel name, or further ahead than any wait
// the collector chooses (a clock that jumped, or a shorter interval
// configured since).
func (c *Collector) storedWait(ctx context.Context, ch Channel) time.Duration {
	st, err := c.load(ctx, ch.ID)
	if err != nil {
		c.log.Warn("stored state unreadable; polling now", zap.String("source", ch.ID), zap.Error(err))
		return 0
	}
	if st.NextPoll.IsZero() || st.Username != strings.ToLower(ch.Username) {
		return 0
	}
	wait := st.NextPoll.Sub(c.cfg.Now())
	longest := max(ch.Interval, c.cfg.MaxBackoff, c.cfg.FailingRetry)
	if wait <= 0 || wait > longest+longest/10 {
		return 0
	}
	return wait
}

func (c *Collector) loop(ctx context.Context, ch Channel) {
	failures := 0
	for {
		wait, _ := c.pollOnce(ctx, ch, &failures) // errors are logged where they happen
		if ctx.Err() != nil {
			return
		}
		if ingest.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// schedule chooses the wait before the next poll after one that ended
// with err, counting consecutive failures.
func (c *Collector) schedule(ch Channel, err error, failures *int) time.Duration {
	log := c.log.With(zap.String("source", ch.ID), zap.String("channel", ch.Username))
	wait := ch.Interval
	var ra retryAfter
	switch {
	case err == nil:
		*failures = 0
	case errors.Is(err, ErrNoPublicPreview):
		wait = c.cfg.FailingRetry
		log.Error("no public preview; source failing, the others go on", zap.Duration("retry_in", wait), zap.Error(err))
	case errors.As(err, &ra):
		*failures++
		wait = max(ra.d, min(ch.Interval<<min(*failures, 8), c.cfg.MaxBackoff))
		log.Warn("throttled", zap.Duration("retry_in", wait), zap.Error(err))
	default:
		*failures++
		wait = min(ch.Interval<<min(*failures, 8), c.cfg.MaxBackoff)
		log.Warn("poll failed", zap.Int("failures", *failures), zap.Duration("retry_in", wait), zap.Error(err))
	}
	// Jitter keeps channels with one interval from polling in lockstep.
	return wait + rand.N(wait/10+1)
}

func (c *Collector) load(ctx context.Context, id string) (State, error) {
	e, err := c.kv.Get(ctx, StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("tgweb: load state of %s: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{}, fmt.Errorf("tgweb: state of %s is not valid JSON (delete key %s in %s to start over): %w", id, StateKey(id), bus.BucketSource, err)
	}
	return st, nil
}

func (c *Collector) save(ctx context.Context, id string, st State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("tgweb: encode state: %w", err)
	}
	if _, err := c.kv.Put(ctx, StateKey(id), data); err != nil {
		return fmt.Errorf("tgweb: save state of %s: %w", id, err)
	}
	return nil
}

// Poll reads one channel once: the newest page (conditionally), then older
// pages with ?before= until it reaches the last seen post or MaxPages,
// and publishes the new posts oldest first. The stored next poll is left
// as it was; Run's polls set it.
func (c *Collector) Poll(ctx context.Context, ch Channel) error {
	_, err := c.pollOnce(ctx, ch, nil)
	return err
}

// pollOnce polls ch and saves its state once, with the next poll when
// failures is given (Run's loop) and the poll was not cut short by ctx:
// what was published, the error counts and the time of the next poll are
// one write, so no restart finds one without the others. A poll that
// shutdown interrupted keeps the stored next poll, which is due, so the
// next start polls at once and finishes it.
func (c *Collector) pollOnce(ctx context.Context, ch Channel, failures *int) (time.Duration, error) {
	st, err := c.load(ctx, ch.ID)
	if err != nil {
		wait := time.Duration(0)
		if failures != nil {
			wait = c.schedule(ch, err, failures)
		}
		return wait, err
	}
	before := st.Published
	pollErr := c.poll(ctx, ch, &st)
	st.Polls++
	st.LastPoll = c.cfg.Now().UTC()
	switch {
	case pollErr == nil:
		st.Failing, st.NoPreview, st.LastError, st.LastSuccess = false, false, "", st.LastPoll
		st.Observe(st.LastPoll, int(st.Published-before))
	case errors.Is(pollErr, ErrNoPublicPreview):
		st.Failing, st.NoPreview, st.LastError = true, true, pollErr.Error()
		st.Errors++
	case ctx.Err() == nil:
		st.LastError = pollErr.Error()
		st.Errors++
	}
	c.stat(ch.ID, func(s *ChannelStats) {
		s.LastID, s.Gaps = st.LastID, st.Gaps
		if pollErr != nil && ctx.Err() == nil {
			s.Errors++
		}
	})
	var wait time.Duration
	if failures != nil && ctx.Err() == nil {
		wait = c.schedule(ch, pollErr, failures)
		st.NextPoll = st.LastPoll.Add(wait)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.save(sctx, ch.ID, st); err != nil {
		c.stat(ch.ID, func(s *ChannelStats) { s.Errors++ })
		c.log.Error("state not saved; the next start may poll early or publish again (the bus drops the copies)",
			zap.String("source", ch.ID), zap.Error(err))
		return wait, errors.Join(pollErr, err)
	}
	return wait, pollErr
}

func (c *Collector) poll(ctx context.Context, ch Channel, st *State) error {
	username := strings.ToLower(ch.Username)
	if st.Username != username {
		*st = State{Username: username, Gaps: st.Gaps, Health: ingest.Health{Errors: st.Errors}, Withdrawn: st.Withdrawn}
	}
	pageURL := ch.BaseURL + "/s/" + url.PathEscape(ch.Username)
	res, err := c.fetch(ctx, pageURL, st)
	if err != nil {
		return err
	}
	if res.notModified {
		c.stat(ch.ID, func(s *ChannelStats) { s.NotModified++ })
		return nil
	}
	etag, lastMod := res.etag, res.lastModified
	posts := newPosts(res.page, st.LastID)
	malformed := res.page.Malformed
	pages := 1
	oldest := oldestID(res.page)
	// Page back while the oldest post on the page is newer than the one
	// after the last seen id. The first poll takes the newest page only.
	for st.LastID > 0 && oldest > st.LastID+1 && pages < ch.MaxPages {
		older, err := c.fetch(ctx, pageURL+"?before="+strconv.Itoa(oldest), nil)
		if err != nil {
			return err
		}
		pages++
		malformed += older.page.Malformed
		more := newPosts(older.page, st.LastID)
		if len(more) == 0 {
			break
		}
		posts = append(posts, more...)
		next := oldestID(older.page)
		if next >= oldest {
			break // a page that does not go back would loop forever
		}
		oldest = next
	}
	c.stat(ch.ID, func(s *ChannelStats) { s.Pages += int64(pages); s.Malformed += int64(malformed) })
	if malformed > 0 {
		c.log.Warn("skipped message blocks without a readable data-post", zap.String("source", ch.ID), zap.Int("count", malformed))
	}
	slices.SortFunc(posts, func(a, b Post) int { return a.ID - b.ID })
	posts = slices.CompactFunc(posts, func(a, b Post) bool { return a.ID == b.ID })
	if len(posts) > 0 {
		lo := st.LastID
		if lo == 0 {
			lo = posts[0].ID - 1
		}
		if gaps := countGaps(lo, posts); gaps > 0 {
			st.Gaps += int64(gaps)
			c.log.Info("post ids missing from the preview (deleted, service messages or beyond max_pages)",
				zap.String("source", ch.ID), zap.Int("count", gaps), zap.Int64("gaps_total", st.Gaps))
		}
	}
	var sent []int
	for _, p := range posts {
		ok, err := c.publish(ctx, ch, st, p, pageURL)
		if err != nil {
			st.Known = mergeKnown(st.Known, sent)
			return err
		}
		if ok {
			sent = append(sent, p.ID)
		}
		st.LastID = p.ID
	}
	if err := c.withdrawMissing(ctx, ch, st, res.page, pageURL, sent); err != nil {
		return err
	}
	// Validators are kept only once everything on the page is on the bus,
	// so a failed publish is not hidden behind a 304 next time.
	st.ETag, st.LastModified = etag, lastMod
	return nil
}

func newPosts(p *Page, lastID int) []Post {
	var out []Post
	for _, post := range p.Posts {
		if post.ID > lastID {
			out = append(out, post)
		}
	}
	return out
}

func oldestID(p *Page) int {
	oldest := 0
	for _, post := range p.Posts {
		if oldest == 0 || post.ID < oldest {
			oldest = post.ID
		}
	}
	return oldest
}

func countGaps(lo int, posts []Post) int {
	n, next := 0, lo+1
	for _, p := range posts {
		if p.ID > next {
			n += p.ID - next
		}
		next = p.ID + 1
	}
	return n
}

type fetched struct {
	page               *Page
	notModified        bool
	etag, lastModified string
}

type retryAfter struct {
	d      time.Duration
	status int
}

func (r retryAfter) Error() string {
	return fmt.Sprintf("%v: HTTP %d, retry after %s", ErrThrottled, r.status, r.d)
}
func (r retryAfter) Unwrap() error { return ErrThrottled }

func (c *Collector) gate(host string) *hostGate {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.hosts[host]
	if !ok {
		g = &hostGate{limiter: rate.NewLimiter(rate.Every(c.cfg.HostInterval), 1)}
		c.hosts[host] = g
	}
	return g
}

// fetch GETs one page politely; st, when given, supplies the validators
// of a conditional request.
func (c *Collector) fetch(ctx context.Context, pageURL string, st *State) (*fetched, error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("tgweb: %w", err)
	}
	g := c.gate(u.Host)
	g.mu.Lock()
	hold := time.Until(g.notBefore)
	g.mu.Unlock()
	if hold > 0 && ingest.Sleep(ctx, hold) != nil {
		return nil, ctx.Err()
	}
	if err := g.limiter.Wait(ctx); err != nil {
		return nil, fmt.Errorf("tgweb: host limit: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, nil)
	if err != nil {
		return nil, fmt.Errorf("tgweb: request %s: %w", pageURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
	if st != nil {
		if st.ETag != "" {
			req.Header.Set("If-None-Match", st.ETag)
		}
		if st.LastModified != "" {
			req.Header.Set("If-Modified-Since", st.LastModified)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tgweb: fetch %s: %w", pageURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return &fetched{notModified: true}, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		return nil, fmt.Errorf("%w: %s redirects to %q", ErrNoPublicPreview, pageURL, loc)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		d := parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
		if d <= 0 {
			d = time.Minute
		}
		d = min(d, c.cfg.MaxBackoff)
		g.mu.Lock()
		g.notBefore = time.Now().Add(d)
		g.mu.Unlock()
		return nil, retryAfter{d: d, status: resp.StatusCode}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("tgweb: fetch %s: HTTP %d", pageURL, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("tgweb: read %s: %w", pageURL, err)
	}
	if int64(len(data)) > c.cfg.MaxBody {
		return nil, fmt.Errorf("tgweb: %s: page over %d bytes", pageURL, c.cfg.MaxBody)
	}
	page, err := ParsePage(data)
	if err != nil {
		return nil, fmt.Errorf("tgweb: %s: %w", pageURL, err)
	}
	return &fetched{page: page, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

// NativeID and PostURL match ingest/telegram's, so that both collectors
// name a post alike.
func NativeID(username string, id int) string {
	return strings.ToLower(username) + "/" + strconv.Itoa(id)
}

// PostURL is the canonical link of a post.
func PostURL(username string, id int) string {
	return "https://t.me/" + strings.ToLower(username) + "/" + strconv.Itoa(id)
}

// publish puts one post on the bus; ok is false for a post without text,
// which is skipped.
func (c *Collector) publish(ctx context.Context, ch Channel, st *State, p Post, pageURL string) (ok bool, err error) {
	if strings.TrimSpace(p.Text) == "" {
		c.stat(ch.ID, func(s *ChannelStats) { s.Skipped++ })
		c.log.Debug("post has no text to publish", zap.String("source", ch.ID), zap.Int("id", p.ID), zap.String("media", p.MediaType))
		return false, nil
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     ch.ID,
		NativeID:   NativeID(st.Username, p.ID),
		SourceCode: ch.Code,
		SourceName: ch.Name,
		URL:        PostURL(st.Username, p.ID),
		Author:     p.Author,
		Body:       p.Text,
		BodyFormat: wire.FormatMarkdown,
		Published:  PublishedRFC3339(p.Published),
		ObservedAt: c.cfg.Now().UTC(),
		Fetch:      &wire.Fetch{URL: pageURL, Status: http.StatusOK},
	}
	if item.SourceName == "" {
		item.SourceName = p.Author
	}
	if p.Views > 0 || p.MediaType != "" {
		item.Meta = &wire.PostStats{Views: p.Views, MediaType: p.MediaType}
	}
	if f := p.ForwardFrom; f != nil {
		item.ForwardOf = c.ref(ch, st, f)
	}
	if r := p.ReplyTo; r != nil {
		item.ReplyTo = c.ref(ch, st, r)
	}
	ack, err := c.pub.Publish(ctx, item)
	if err != nil {
		return false, fmt.Errorf("tgweb: %s: %w", ch.ID, err)
	}
	if !ack.Duplicate {
		st.Published++
	}
	c.stat(ch.ID, func(s *ChannelStats) {
		if ack.Duplicate {
			s.Duplicates++
		} else {
			s.Published++
		}
	})
	return true, nil
}

// ref names another post the way ingest/telegram does: by the origin's
// username (or this source's id for its own posts), or only by name.
func (c *Collector) ref(ch Channel, st *State, r *PostRef) *wire.Ref {
	if r.Channel == "" || r.ID == 0 {
		if r.Name == "" {
			return nil
		}
		return &wire.Ref{Kind: Kind, Source: r.Name}
	}
	u := strings.ToLower(r.Channel)
	source := u
	if u == st.Username {
		source = ch.ID
	}
	return &wire.Ref{Kind: Kind, Source: source, NativeID: NativeID(u, r.ID), URL: PostURL(u, r.ID)}
}
