// Package mastodon reads public posts from Mastodon instances — account
// statuses over REST, hashtag and list timelines over the streaming API
// (server-sent events) — and publishes them as raw items of kind
// "mastodon". See README.md for setup, limits and failure modes.
package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Kind is the raw item kind.
const Kind = "mastodon"

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// Source is one configured source: exactly one of Account, Hashtag and
// List is set.
type Source struct {
	ID   string
	Code string
	Name string
	// Instance is the server's base URL, e.g. https://mastodon.social.
	Instance string
	// Token is an access token, for instances that require one and for lists.
	Token string
	// Account is polled over REST (GET /api/v1/accounts/:id/statuses).
	Account string
	// Hashtag and List are followed over the streaming API.
	Hashtag string
	List    string
	// ExcludeReplies leaves an account's replies out.
	ExcludeReplies bool
	// Interval between account polls (default 5m); MaxPages bounds how far
	// one poll (or a stream's catch-up) pages back (default 5 pages of 40).
	Interval time.Duration
	MaxPages int
	// Recheck is how many of an account's newest published posts are
	// asked for again, at most every RecheckInterval (default 10 and
	// 10m; -1 off), so that a deleted one (404) is withdrawn.
	Recheck         int
	RecheckInterval time.Duration
}

func (s Source) target() string {
	switch {
	case s.Hashtag != "":
		return "tag:" + strings.ToLower(s.Hashtag) + "@" + s.Instance
	case s.List != "":
		return "list:" + s.List + "@" + s.Instance
	}
	return "account:" + strings.ToLower(s.Account) + "@" + s.Instance
}

func (s Source) streaming() bool { return s.Hashtag != "" || s.List != "" }

// Config configures the collector.
type Config struct {
	Sources   []Source
	UserAgent string
	Timeout   time.Duration
	MaxBody   int64
	// MaxBackoff caps the wait after repeated failures (default 6h); a
	// source whose account or list is not found is retried after
	// FailingRetry (default 12h).
	MaxBackoff   time.Duration
	FailingRetry time.Duration
	// StreamIdle ends a stream that sent nothing, not even a heartbeat,
	// for this long (default 2m); it is then reconnected.
	StreamIdle time.Duration
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// known is a published status: enough to notice its deletion and to
// withdraw it.
type known struct {
	ID  string `json:"id"`
	URI string `json:"uri"`
	URL string `json:"url"`
}

// maxKnown bounds State.Known.
const maxKnown = 200

// State is what the collector keeps per source in wire_source under
// StateKey(source id).
type State struct {
	Target    string `json:"target"`
	AccountID string `json:"account_id,omitempty"`
	// SinceID is the newest status id published: the next request's since_id.
	SinceID string `json:"since_id,omitempty"`
	// Known lists published statuses, oldest first, for duplicates across
	// a stream's reconnects and for deletions.
	Known       []known   `json:"known,omitempty"`
	LastRecheck time.Time `json:"last_recheck,omitzero"`
	Withdrawn   int64     `json:"withdrawn"`
	Gaps        int64     `json:"gaps"`
	RateLimited int64     `json:"rate_limited"`
	Reconnects  int64     `json:"reconnects"`
	ingest.Health
}

// StateKey is the wire_source key of a mastodon source (ingest.HealthKey).
func StateKey(sourceID string) string { return ingest.HealthKey(Kind, sourceID) }

// SourceStats are a source's counters since start.
type SourceStats struct {
	Published, Duplicates, Requests, Pages, Errors, Malformed int64
	// Repeats are statuses seen again (catch-up and stream overlap) and
	// not published again; Private are followers-only or direct ones
	// never published.
	Repeats, Private int64
	// Events counts stream events; Edits the status.update events (an
	// edited post is not published again).
	Events, Edits int64
	Withdrawn     int64
	RateLimited   int64
	Reconnects    int64
	Gaps          int64
}

// Collector reads Mastodon.
type Collector struct {
	cfg    Config
	pub    ingest.Publisher
	kv     StateStore
	api    *client
	stream *http.Client
	log    *zap.Logger
	// byAcct maps user@host of configured accounts to their source id.
	byAcct map[string]string

	mu    sync.Mutex
	stats map[string]*SourceStats
}

// New checks cfg and returns a collector. httpClient may be nil.
func New(cfg Config, pub ingest.Publisher, kv StateStore, httpClient *http.Client, log *zap.Logger) (*Collector, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.Sources) == 0 {
		return nil, errors.New("mastodon: no sources configured")
	}
	if pub == nil || kv == nil {
		return nil, errors.New("mastodon: a publisher and the wire_source bucket are required")
	}
	byAcct := map[string]string{}
	for i, s := range cfg.Sources {
		n := 0
		for _, v := range []string{s.Account, s.Hashtag, s.List} {
			if v != "" {
				n++
			}
		}
		if s.ID == "" || n != 1 {
			return nil, fmt.Errorf("mastodon: source %d needs an id and exactly one of account, hashtag and list", i)
		}
		u, err := url.Parse(s.Instance)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf("mastodon: source %s: instance %q must be an http(s) URL", s.ID, s.Instance)
		}
		cfg.Sources[i].Instance = strings.TrimSuffix(s.Instance, "/")
		cfg.Sources[i].Hashtag = strings.TrimPrefix(s.Hashtag, "#")
		cfg.Sources[i].Account = strings.TrimPrefix(s.Account, "@")
		if s.List != "" && s.Token == "" {
			return nil, fmt.Errorf("mastodon: source %s: a list needs an access token", s.ID)
		}
		if s.Interval <= 0 {
			cfg.Sources[i].Interval = 5 * time.Minute
		}
		if s.MaxPages <= 0 {
			cfg.Sources[i].MaxPages = 5
		}
		if s.Recheck == 0 {
			cfg.Sources[i].Recheck = 10
		}
		if s.RecheckInterval <= 0 {
			cfg.Sources[i].RecheckInterval = 10 * time.Minute
		}
		if s.Account != "" {
			byAcct[fullAcct(cfg.Sources[i].Account, cfg.Sources[i].Instance)] = s.ID
		}
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 6 * time.Hour
	}
	if cfg.FailingRetry <= 0 {
		cfg.FailingRetry = 12 * time.Hour
	}
	if cfg.StreamIdle <= 0 {
		cfg.StreamIdle = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = ingest.Sleep
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	// A stream lasts for hours: its client has no overall timeout (the
	// idle timer and ctx end it).
	sc := *httpClient
	sc.Timeout = 0
	c := &Collector{cfg: cfg, pub: pub, kv: kv, stream: &sc, log: log.Named("mastodon"), byAcct: byAcct,
		stats: map[string]*SourceStats{},
		api: &client{http: httpClient, agent: cfg.UserAgent, maxBody: cfg.MaxBody, timeout: cfg.Timeout,
			now: cfg.Now, limits: map[string]window{}}}
	for _, s := range cfg.Sources {
		c.stats[s.ID] = &SourceStats{}
	}
	return c, nil
}

// Stats returns a copy of every source's counters.
func (c *Collector) Stats() map[string]SourceStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]SourceStats, len(c.stats))
	for id, s := range c.stats {
		out[id] = *s
	}
	return out
}

func (c *Collector) stat(id string, f func(*SourceStats)) {
	c.mu.Lock()
	f(c.stats[id])
	c.mu.Unlock()
}

// Run reads every source until ctx ends: accounts are polled, hashtags
// and lists streamed. A source whose token is rejected stops (marked
// failing); the others go on.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, src := range c.cfg.Sources {
		wg.Go(func() {
			if c.cfg.Sleep(ctx, time.Duration(i)*time.Second) != nil {
				return
			}
			if src.streaming() {
				c.streamLoop(ctx, src)
				return
			}
			c.pollLoop(ctx, src)
		})
	}
	wg.Wait()
	return nil
}

func (c *Collector) pollLoop(ctx context.Context, src Source) {
	if due := c.storedWait(ctx, src); due > 0 {
		c.log.Info("waiting for the stored next poll", zap.String("source", src.ID), zap.Duration("wait", due))
		if c.cfg.Sleep(ctx, due) != nil {
			return
		}
	}
	failures := 0
	for {
		wait, err := c.pollOnce(ctx, src, &failures)
		if errors.Is(err, ErrCredential) {
			c.log.Error("the instance rejected the access token; source stopped and marked failing", zap.String("source", src.ID), zap.Error(err))
			return
		}
		if ctx.Err() != nil || c.cfg.Sleep(ctx, wait) != nil {
			return
		}
	}
}

func (c *Collector) storedWait(ctx context.Context, src Source) time.Duration {
	st, err := c.load(ctx, src.ID)
	if err != nil || st.NextPoll.IsZero() || st.Target != src.target() {
		return 0
	}
	wait := st.NextPoll.Sub(c.cfg.Now())
	longest := max(src.Interval, c.cfg.MaxBackoff, c.cfg.FailingRetry)
	if wait <= 0 || wait > longest+longest/10 {
		return 0
	}
	return wait
}

// schedule chooses the wait after a poll (or stream) that ended with err.
func (c *Collector) schedule(src Source, err error, failures *int, base time.Duration) time.Duration {
	log := c.log.With(zap.String("source", src.ID))
	wait := base
	var rl *RateLimitError
	switch {
	case err == nil:
		*failures = 0
	case errors.As(err, &rl):
		*failures++
		wait = max(rl.Reset.Sub(c.cfg.Now())+time.Second, base)
		log.Warn("rate limited; waiting for the window to reset", zap.Duration("retry_in", wait))
		return wait
	case errors.Is(err, ErrNotFound):
		wait = c.cfg.FailingRetry
		log.Error("not found; source failing, the others go on", zap.Duration("retry_in", wait), zap.Error(err))
	default:
		*failures++
		wait = min(base<<min(*failures, 12), c.cfg.MaxBackoff)
		log.Warn("failed", zap.Int("failures", *failures), zap.Duration("retry_in", wait), zap.Error(err))
	}
	return wait + rand.N(wait/10+1)
}

func (c *Collector) load(ctx context.Context, id string) (State, error) {
	e, err := c.kv.Get(ctx, StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("mastodon: load state of %s: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{}, fmt.Errorf("mastodon: state of %s is not valid JSON (delete key %s in %s to start over): %w", id, StateKey(id), bus.BucketSource, err)
	}
	return st, nil
}

func (c *Collector) save(ctx context.Context, id string, st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("mastodon: encode state: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.kv.Put(sctx, StateKey(id), data); err != nil {
		return fmt.Errorf("mastodon: save state of %s: %w", id, err)
	}
	return nil
}

// loadFor loads a source's state, starting over when it names another target.
func (c *Collector) loadFor(ctx context.Context, src Source) (State, error) {
	st, err := c.load(ctx, src.ID)
	if err != nil {
		return st, err
	}
	if t := src.target(); st.Target != t {
		st = State{Target: t, Health: ingest.Health{Errors: st.Errors, Published: st.Published},
			Withdrawn: st.Withdrawn, Gaps: st.Gaps, RateLimited: st.RateLimited, Reconnects: st.Reconnects}
	}
	return st, nil
}

// Poll reads an account source once and saves its state.
func (c *Collector) Poll(ctx context.Context, src Source) error {
	_, err := c.pollOnce(ctx, src, nil)
	return err
}

// pollOnce polls an account and saves its state, with the next poll when
// failures is given, in one write.
func (c *Collector) pollOnce(ctx context.Context, src Source, failures *int) (time.Duration, error) {
	st, err := c.loadFor(ctx, src)
	if err != nil {
		if failures != nil {
			return c.schedule(src, err, failures, src.Interval), err
		}
		return 0, err
	}
	before := st.Published
	pollErr := c.pollAccount(ctx, src, &st)
	if pollErr == nil {
		pollErr = c.recheck(ctx, src, &st)
	}
	st.Polls++
	st.LastPoll = c.cfg.Now().UTC()
	c.record(ctx, src, &st, pollErr)
	if pollErr == nil {
		st.Observe(st.LastPoll, int(st.Published-before))
	}
	var wait time.Duration
	if failures != nil && ctx.Err() == nil && !errors.Is(pollErr, ErrCredential) {
		wait = c.schedule(src, pollErr, failures, src.Interval)
		st.NextPoll = st.LastPoll.Add(wait)
	}
	if err := c.save(ctx, src.ID, &st); err != nil {
		c.stat(src.ID, func(s *SourceStats) { s.Errors++ })
		c.log.Error("state not saved; the next start may read posts again (the bus drops the copies)", zap.String("source", src.ID), zap.Error(err))
		return wait, errors.Join(pollErr, err)
	}
	return wait, pollErr
}

// record puts the outcome of a poll or stream into the state's health
// and the counters.
func (c *Collector) record(ctx context.Context, src Source, st *State, err error) {
	var rl *RateLimitError
	switch {
	case err == nil:
		// errors counts consecutive failures, as rss does: zero means the
		// last poll (or connection) worked.
		st.Failing, st.LastError, st.LastSuccess, st.Errors = false, "", c.cfg.Now().UTC(), 0
		return
	case ctx.Err() != nil:
		return
	case errors.As(err, &rl):
		st.RateLimited++
		st.LastError = err.Error()
		c.stat(src.ID, func(s *SourceStats) { s.RateLimited++ })
	case errors.Is(err, ErrCredential), errors.Is(err, ErrNotFound):
		st.Failing, st.LastError = true, err.Error()
		st.Errors++
		st.NextPoll = time.Time{}
	default:
		st.LastError = err.Error()
		st.Errors++
	}
	c.stat(src.ID, func(s *SourceStats) {
		s.Errors++
		if errors.Is(err, ErrMalformed) {
			s.Malformed++
		}
	})
}

// pollAccount resolves the account once and publishes its new statuses.
func (c *Collector) pollAccount(ctx context.Context, src Source, st *State) error {
	if st.AccountID == "" {
		var a account
		c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
		u := src.Instance + "/api/v1/accounts/lookup?acct=" + url.QueryEscape(src.Account)
		if _, err := c.api.get(ctx, src.Instance, src.Token, u, &a); err != nil {
			return err
		}
		if !validID(a.ID) {
			return fmt.Errorf("%w: account lookup of %s gave id %q", ErrMalformed, src.Account, a.ID)
		}
		st.AccountID = a.ID
		c.log.Info("resolved account", zap.String("source", src.ID), zap.String("acct", a.Acct), zap.String("id", a.ID))
	}
	q := url.Values{"limit": {"40"}}
	if src.ExcludeReplies {
		q.Set("exclude_replies", "true")
	}
	return c.catchUp(ctx, src, st, src.Instance+"/api/v1/accounts/"+st.AccountID+"/statuses", q)
}

// catchUp reads a timeline newest first, following the Link header's
// next page, until it reaches SinceID, runs out of pages or hits
// MaxPages, and publishes the new statuses oldest first. Without a
// SinceID (the first read) it takes the newest page only.
func (c *Collector) catchUp(ctx context.Context, src Source, st *State, path string, q url.Values) error {
	if st.SinceID != "" {
		q.Set("since_id", st.SinceID)
	}
	next := path + "?" + q.Encode()
	fetchURL := next
	var found []status
	reached := st.SinceID == ""
	for pages := 0; pages < src.MaxPages && next != ""; pages++ {
		var page []json.RawMessage
		c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
		n, err := c.api.get(ctx, src.Instance, src.Token, next, &page)
		if err != nil {
			return err
		}
		c.stat(src.ID, func(s *SourceStats) { s.Pages++ })
		older := false
		for _, raw := range page {
			var s status
			if err := json.Unmarshal(raw, &s); err != nil || !s.valid() {
				c.malformed(src, "status", err, raw)
				continue
			}
			if st.SinceID != "" && !idLess(st.SinceID, s.ID) {
				older = true
				continue
			}
			found = append(found, s)
		}
		if older || len(page) == 0 || n == "" {
			reached = true
			break
		}
		if st.SinceID == "" {
			break
		}
		if !sameOrigin(n, src.Instance) {
			// The token must not go to another host a Link header names.
			c.malformed(src, "Link header (next page on another host)", nil, []byte(n))
			break
		}
		next = n
	}
	if !reached {
		st.Gaps++
		c.stat(src.ID, func(s *SourceStats) { s.Gaps++ })
		c.log.Warn("max_pages reached before the last seen status; older new statuses were not read", zap.String("source", src.ID))
	}
	slices.SortFunc(found, func(a, b status) int {
		switch {
		case a.ID == b.ID:
			return 0
		case idLess(a.ID, b.ID):
			return -1
		}
		return 1
	})
	for _, s := range found {
		if err := c.publish(ctx, src, st, s, fetchURL); err != nil {
			return err
		}
	}
	return nil
}

// sameOrigin says whether rawURL is on the instance's scheme and host.
func sameOrigin(rawURL, instance string) bool {
	u, err1 := url.Parse(rawURL)
	i, err2 := url.Parse(instance)
	return err1 == nil && err2 == nil && u.Scheme == i.Scheme && strings.EqualFold(u.Host, i.Host)
}

// malformed counts and logs an unreadable piece of an answer or stream.
func (c *Collector) malformed(src Source, what string, err error, raw []byte) {
	c.stat(src.ID, func(s *SourceStats) { s.Malformed++ })
	snippet := string(raw)
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	c.log.Warn("unreadable "+what+" skipped", zap.String("source", src.ID), zap.Error(err), zap.String("data", snippet))
}

func (st *State) isKnown(id string) (known, bool) {
	for _, k := range st.Known {
		if k.ID == id {
			return k, true
		}
	}
	return known{}, false
}

func (st *State) addKnown(k known) {
	st.Known = append(st.Known, k)
	if over := len(st.Known) - maxKnown; over > 0 {
		st.Known = slices.Delete(st.Known, 0, over)
	}
}

// publish puts one status on the bus, once: a status already published
// (seen again by a catch-up after a reconnect) is counted, not repeated.
func (c *Collector) publish(ctx context.Context, src Source, st *State, s status, fetchURL string) error {
	if !s.public() || (s.Reblog != nil && !s.Reblog.public()) {
		c.stat(src.ID, func(x *SourceStats) { x.Private++ })
		return nil
	}
	if _, ok := st.isKnown(s.ID); ok {
		c.stat(src.ID, func(x *SourceStats) { x.Repeats++ })
		return nil
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     src.ID,
		NativeID:   s.URI,
		SourceCode: src.Code,
		SourceName: src.Name,
		URL:        s.postURL(),
		Author:     "@" + fullAcct(s.Account.Acct, src.Instance),
		Body:       s.Content,
		BodyFormat: wire.FormatHTML,
		Published:  s.CreatedAt,
		ObservedAt: c.cfg.Now().UTC(),
		Lang:       s.Language,
		Fetch:      &wire.Fetch{URL: fetchURL, Status: http.StatusOK},
	}
	if item.SourceName == "" && src.Account != "" && s.Account.DisplayName != "" {
		item.SourceName = s.Account.DisplayName
	}
	if s.EditedAt != "" {
		item.Meta = &wire.PostStats{EditedAt: s.EditedAt}
	}
	if r := s.Reblog; r != nil {
		// A boost carries the boosted post's text and is forward_of it;
		// the normalizer makes its entry repost_of the original's.
		item.Body = r.Content
		if item.Lang == "" {
			item.Lang = r.Language
		}
		item.ForwardOf = c.ref(src, st, r)
	}
	if q := s.Quote; q != nil && q.QuotedStatus != nil && q.QuotedStatus.URI != "" {
		item.QuoteOf = c.ref(src, st, q.QuotedStatus)
	}
	if s.InReplyToID != "" {
		if k, ok := st.isKnown(s.InReplyToID); ok {
			item.ReplyTo = &wire.Ref{Kind: Kind, Source: src.ID, NativeID: k.URI, URL: k.URL}
		} else {
			item.ReplyTo = &wire.Ref{Kind: Kind, URL: src.Instance + "/statuses/" + s.InReplyToID}
		}
	}
	ack, err := c.pub.Publish(ctx, item)
	if err != nil {
		return fmt.Errorf("mastodon: %s: %w", src.ID, err)
	}
	if !ack.Duplicate {
		st.Published++
	}
	st.addKnown(known{ID: s.ID, URI: s.URI, URL: item.URL})
	if st.SinceID == "" || idLess(st.SinceID, s.ID) {
		st.SinceID = s.ID
	}
	c.stat(src.ID, func(x *SourceStats) {
		if ack.Duplicate {
			x.Duplicates++
		} else {
			x.Published++
		}
	})
	return nil
}

// ref names another status by the source whose entry it becomes: this
// source when it published it, else the configured account source of its
// author, else the author's user@host.
func (c *Collector) ref(src Source, st *State, s *status) *wire.Ref {
	r := &wire.Ref{Kind: Kind, NativeID: s.URI, URL: s.postURL()}
	acct := fullAcct(s.Account.Acct, src.Instance)
	switch {
	case c.publishedHere(st, s.URI):
		r.Source = src.ID
	case c.byAcct[acct] != "":
		r.Source = c.byAcct[acct]
	default:
		r.Source = acct
	}
	return r
}

func (c *Collector) publishedHere(st *State, uri string) bool {
	for _, k := range st.Known {
		if k.URI == uri {
			return true
		}
	}
	return false
}

// recheck asks for the newest published statuses of an account again, at
// most every RecheckInterval; a 404 means deleted, and it is withdrawn.
func (c *Collector) recheck(ctx context.Context, src Source, st *State) error {
	if src.Recheck < 0 || len(st.Known) == 0 || c.cfg.Now().Sub(st.LastRecheck) < src.RecheckInterval {
		return nil
	}
	from := max(0, len(st.Known)-src.Recheck)
	for _, k := range slices.Clone(st.Known[from:]) {
		var s status
		c.stat(src.ID, func(x *SourceStats) { x.Requests++ })
		_, err := c.api.get(ctx, src.Instance, src.Token, src.Instance+"/api/v1/statuses/"+k.ID, &s)
		switch {
		case errors.Is(err, ErrNotFound):
			if err := c.withdraw(ctx, src, st, k, "404 on re-check"); err != nil {
				return err
			}
		case err != nil:
			return err
		}
	}
	st.LastRecheck = c.cfg.Now().UTC()
	return nil
}

// withdraw publishes a known status's raw item again, marked deleted and
// without text, and forgets it, so that it is withdrawn once.
func (c *Collector) withdraw(ctx context.Context, src Source, st *State, k known, why string) error {
	item := wire.RawItem{
		Kind:       Kind,
		Source:     src.ID,
		NativeID:   k.URI,
		SourceCode: src.Code,
		SourceName: src.Name,
		URL:        k.URL,
		ObservedAt: c.cfg.Now().UTC(),
		Deleted:    true,
	}
	if _, err := c.pub.Publish(ctx, item); err != nil {
		return fmt.Errorf("mastodon: %s: withdraw %s: %w", src.ID, k.ID, err)
	}
	st.Known = slices.DeleteFunc(st.Known, func(x known) bool { return x.ID == k.ID })
	st.Withdrawn++
	c.stat(src.ID, func(x *SourceStats) { x.Withdrawn++ })
	c.log.Info("status deleted; withdrawal published", zap.String("source", src.ID), zap.String("id", k.ID), zap.String("why", why))
	return nil
}

// timelinePath is the REST timeline a stream source catches up from.
func timelinePath(src Source) string {
	if src.Hashtag != "" {
		return src.Instance + "/api/v1/timelines/tag/" + url.PathEscape(src.Hashtag)
	}
	return src.Instance + "/api/v1/timelines/list/" + url.PathEscape(src.List)
}

// streamURL is where a stream source's events come from.
func streamURL(src Source) string {
	if src.Hashtag != "" {
		return src.Instance + "/api/v1/streaming/hashtag?tag=" + url.QueryEscape(src.Hashtag)
	}
	return src.Instance + "/api/v1/streaming/list?list=" + url.QueryEscape(src.List)
}
