// Package x reads posts from the X (Twitter) API v2 with an app-only
// bearer token — user timelines, list timelines and recent search — and
// publishes them as raw items of kind "x". See README.md for setup, access
// tiers and their cost, limits and failure modes.
package x

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Kind is the raw item kind.
const Kind = "x"

// DefaultBaseURL is where the API lives.
const DefaultBaseURL = "https://api.x.com"

// maxRecheck bounds Source.Recheck: five lookups of 100 ids.
const maxRecheck = 500

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// Source is one configured source: exactly one of Username, ListID and
// Query is set.
type Source struct {
	ID   string
	Code string
	Name string
	// Username reads the user's timeline (GET /2/users/:id/tweets); UserID,
	// when known, spares the lookup.
	Username string
	UserID   string
	// ListID reads a list's timeline (GET /2/lists/:id/tweets).
	ListID string
	// Query reads recent search (GET /2/tweets/search/recent).
	Query string
	// ExcludeReplies and ExcludeRetweets are passed to user timelines.
	ExcludeReplies, ExcludeRetweets bool
	// Interval between polls (default 15m); MaxPages bounds one poll
	// (default 5 pages of MaxResults).
	Interval time.Duration
	MaxPages int
	// Recheck is how many of the newest published posts are looked up
	// again (GET /2/tweets, 100 ids a request) at most every
	// RecheckInterval (default 1h), so that a deleted one is withdrawn.
	// 0 (the default) or less is off: every post looked up is a paid read.
	Recheck         int
	RecheckInterval time.Duration
}

func (s Source) endpoint() string {
	switch {
	case s.ListID != "":
		return "lists/:id/tweets"
	case s.Query != "":
		return "tweets/search/recent"
	}
	return "users/:id/tweets"
}

// Config configures the collector.
type Config struct {
	Sources []Source
	// BearerToken is the app-only token (developer portal → your app →
	// Keys and tokens).
	BearerToken string
	BaseURL     string
	UserAgent   string
	Timeout     time.Duration
	MaxBody     int64
	// MaxResults per request (default 100; the API allows 5..100 for
	// timelines, 10..100 for search).
	MaxResults int
	// MaxBackoff caps the wait after repeated failures (default 6h);
	// FailingRetry is the wait after a user or list was not found
	// (default 12h).
	MaxBackoff   time.Duration
	FailingRetry time.Duration
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// State is what the collector keeps per source in wire_source under
// StateKey(source id).
type State struct {
	// Target names what the state belongs to ("user:nasa", "list:123",
	// "search:<query>"); a changed target starts over.
	Target   string `json:"target"`
	UserID   string `json:"user_id,omitempty"`
	Username string `json:"username,omitempty"`
	// SinceID is the newest post published: the next poll's since_id.
	SinceID string `json:"since_id,omitempty"`
	// Gaps counts polls that hit max_pages before reaching SinceID: posts
	// in between were not read.
	Gaps int64 `json:"gaps"`
	// RateLimited counts answers that said a window was used up.
	RateLimited int64 `json:"rate_limited"`
	// Recent lists the newest published posts, oldest first, that a
	// re-check looks up (only with recheck on); LastRecheck is when that
	// was last done.
	Recent      []recent  `json:"recent,omitempty"`
	LastRecheck time.Time `json:"last_recheck,omitzero"`
	// WithdrawnIDs are the posts withdrawn, newest last, so that a
	// restart never withdraws one twice; Withdrawn counts them all.
	WithdrawnIDs []string `json:"withdrawn_ids,omitempty"`
	Withdrawn    int64    `json:"withdrawn"`
	ingest.Health
}

// StateKey is the wire_source key of an x source (ingest.HealthKey).
func StateKey(sourceID string) string { return ingest.HealthKey(Kind, sourceID) }

// SourceStats are a source's counters since start.
type SourceStats struct {
	Published, Duplicates, Requests, Pages, Malformed, PartialErrors, Errors int64
	// RateLimited counts 429s and requests held back by a used-up window;
	// RateLimitWaits the waits for a window's reset.
	RateLimited, RateLimitWaits int64
	Gaps                        int64
	// Rechecks counts re-checks of published posts; Withdrawn the
	// withdrawals they published.
	Rechecks, Withdrawn int64
}

// Collector polls X.
type Collector struct {
	cfg    Config
	pub    ingest.Publisher
	kv     StateStore
	api    *client
	log    *zap.Logger
	byUser map[string]string // lower-cased username → source id

	mu    sync.Mutex
	stats map[string]*SourceStats
}

// New checks cfg and returns a collector. httpClient may be nil.
func New(cfg Config, pub ingest.Publisher, kv StateStore, httpClient *http.Client, log *zap.Logger) (*Collector, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.Sources) == 0 {
		return nil, errors.New("x: no sources configured")
	}
	if pub == nil || kv == nil {
		return nil, errors.New("x: a publisher and the wire_source bucket are required")
	}
	if strings.TrimSpace(cfg.BearerToken) == "" {
		return nil, errors.New("x: a bearer token is required (x.bearer_token)")
	}
	byUser := map[string]string{}
	for i, s := range cfg.Sources {
		n := 0
		for _, v := range []string{s.Username, s.ListID, s.Query} {
			if v != "" {
				n++
			}
		}
		if s.ID == "" || n != 1 {
			return nil, fmt.Errorf("x: source %d needs an id and exactly one of username, list_id and query", i)
		}
		if s.UserID != "" && !validID(s.UserID) {
			return nil, fmt.Errorf("x: source %s: user_id %q is not a numeric id", s.ID, s.UserID)
		}
		if s.ListID != "" && !validID(s.ListID) {
			return nil, fmt.Errorf("x: source %s: list_id %q is not a numeric id", s.ID, s.ListID)
		}
		if s.Interval <= 0 {
			cfg.Sources[i].Interval = 15 * time.Minute
		}
		if s.MaxPages <= 0 {
			cfg.Sources[i].MaxPages = 5
		}
		if s.Recheck > maxRecheck {
			return nil, fmt.Errorf("x: source %s: recheck %d is over %d", s.ID, s.Recheck, maxRecheck)
		}
		if s.RecheckInterval <= 0 {
			cfg.Sources[i].RecheckInterval = time.Hour
		}
		if s.Username != "" {
			cfg.Sources[i].Username = strings.TrimPrefix(s.Username, "@")
			byUser[strings.ToLower(cfg.Sources[i].Username)] = s.ID
		}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("x: base URL %q must be an http(s) URL without query", cfg.BaseURL)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.MaxResults == 0 {
		cfg.MaxResults = 100
	}
	if cfg.MaxResults < 10 || cfg.MaxResults > 100 {
		return nil, fmt.Errorf("x: max_results %d must be within 10..100", cfg.MaxResults)
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
	if cfg.Sleep == nil {
		cfg.Sleep = ingest.Sleep
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: cfg.Timeout}
	}
	c := &Collector{cfg: cfg, pub: pub, kv: kv, log: log.Named("x"), byUser: byUser, stats: map[string]*SourceStats{},
		api: &client{http: httpClient, base: cfg.BaseURL, token: cfg.BearerToken, agent: cfg.UserAgent,
			maxBody: cfg.MaxBody, now: cfg.Now, limits: map[string]window{}}}
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

// Run polls every source on its interval until ctx ends. When X rejects
// the bearer token (401/403) every source stops, is marked failing with
// X's answer, and Run returns an error that wraps ErrCredential: polling
// on with a rejected token would only serve stale data silently.
func (c *Collector) Run(ctx context.Context) error {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg      sync.WaitGroup
		credMu  sync.Mutex
		credErr error
	)
	for i, src := range c.cfg.Sources {
		wg.Go(func() {
			// Spread the first polls; a restart waits for the stored next poll.
			wait := time.Duration(i) * time.Second
			if due := c.storedWait(rctx, src); due > wait {
				c.log.Info("waiting for the stored next poll", zap.String("source", src.ID), zap.Duration("wait", due))
				wait = due
			}
			if c.cfg.Sleep(rctx, wait) != nil {
				return
			}
			failures := 0
			for {
				wait, err := c.pollOnce(rctx, src, &failures)
				if errors.Is(err, ErrCredential) {
					credMu.Lock()
					if credErr == nil {
						credErr = err
					}
					credMu.Unlock()
					stop()
					return
				}
				if rctx.Err() != nil || c.cfg.Sleep(rctx, wait) != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if credErr == nil {
		return nil
	}
	c.log.Error("X rejected the bearer token: every x source stopped and is marked failing", zap.Error(credErr))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, src := range c.cfg.Sources {
		c.markCredentialFailing(sctx, src, credErr)
	}
	return credErr
}

// markCredentialFailing records a rejected token in a source's health.
func (c *Collector) markCredentialFailing(ctx context.Context, src Source, credErr error) {
	st, err := c.load(ctx, src.ID)
	if err != nil {
		// Saving over an unreadable state would lose its cursor; the log
		// line above names the rejected token already.
		c.log.Error("source not marked failing: its state is unreadable", zap.String("source", src.ID), zap.Error(err))
		return
	}
	if st.Failing && st.LastError == credErr.Error() {
		return
	}
	st.Failing, st.LastError, st.NextPoll = true, credErr.Error(), time.Time{}
	st.Errors++
	if err := c.save(ctx, src.ID, st); err != nil {
		c.log.Error("state not saved", zap.String("source", src.ID), zap.Error(err))
	}
}

func (c *Collector) storedWait(ctx context.Context, src Source) time.Duration {
	st, err := c.load(ctx, src.ID)
	if err != nil || st.NextPoll.IsZero() || st.Target != target(src) {
		return 0
	}
	wait := st.NextPoll.Sub(c.cfg.Now())
	longest := max(src.Interval, c.cfg.MaxBackoff, c.cfg.FailingRetry)
	if wait <= 0 || wait > longest+longest/10 {
		return 0
	}
	return wait
}

func target(s Source) string {
	switch {
	case s.ListID != "":
		return "list:" + s.ListID
	case s.Query != "":
		return "search:" + s.Query
	}
	return "user:" + strings.ToLower(s.Username)
}

// schedule chooses the wait after a poll that ended with err.
func (c *Collector) schedule(src Source, err error, failures *int) time.Duration {
	log := c.log.With(zap.String("source", src.ID))
	wait := src.Interval
	var rl *RateLimitError
	switch {
	case err == nil:
		*failures = 0
	case errors.As(err, &rl):
		*failures++
		// Wait for the window's reset, and at least the interval.
		wait = max(rl.Reset.Sub(c.cfg.Now())+time.Second, src.Interval)
		c.stat(src.ID, func(s *SourceStats) { s.RateLimitWaits++ })
		log.Warn("rate limited; waiting for the window to reset", zap.String("endpoint", rl.Endpoint), zap.Duration("retry_in", wait))
		return wait
	case errors.Is(err, ErrNotFound):
		wait = c.cfg.FailingRetry
		log.Error("not found; source failing, the others go on", zap.Duration("retry_in", wait), zap.Error(err))
	default:
		*failures++
		wait = min(src.Interval<<min(*failures, 8), c.cfg.MaxBackoff)
		log.Warn("poll failed", zap.Int("failures", *failures), zap.Duration("retry_in", wait), zap.Error(err))
	}
	return wait + rand.N(wait/10+1)
}

func (c *Collector) load(ctx context.Context, id string) (State, error) {
	e, err := c.kv.Get(ctx, StateKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("x: load state of %s: %w", id, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{}, fmt.Errorf("x: state of %s is not valid JSON (delete key %s in %s to start over): %w", id, StateKey(id), bus.BucketSource, err)
	}
	return st, nil
}

func (c *Collector) save(ctx context.Context, id string, st State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("x: encode state: %w", err)
	}
	if _, err := c.kv.Put(ctx, StateKey(id), data); err != nil {
		return fmt.Errorf("x: save state of %s: %w", id, err)
	}
	return nil
}

// Poll reads one source once and saves its state; the stored next poll is
// left as it was.
func (c *Collector) Poll(ctx context.Context, src Source) error {
	_, err := c.pollOnce(ctx, src, nil)
	return err
}

// pollOnce polls src and saves its state, with the next poll when
// failures is given (Run's loop), in one write.
func (c *Collector) pollOnce(ctx context.Context, src Source, failures *int) (time.Duration, error) {
	st, err := c.load(ctx, src.ID)
	if err != nil {
		wait := time.Duration(0)
		if failures != nil {
			wait = c.schedule(src, err, failures)
		}
		return wait, err
	}
	before := st.Published
	pollErr := c.poll(ctx, src, &st)
	if pollErr == nil {
		pollErr = c.recheck(ctx, src, &st)
	}
	st.Polls++
	st.LastPoll = c.cfg.Now().UTC()
	var rl *RateLimitError
	switch {
	case pollErr == nil:
		// errors counts consecutive failed polls, as rss does: zero means
		// the last poll worked.
		st.Failing, st.LastError, st.LastSuccess, st.Errors = false, "", st.LastPoll, 0
		st.Observe(st.LastPoll, int(st.Published-before))
	case errors.As(pollErr, &rl):
		st.RateLimited++
		st.LastError = pollErr.Error()
		c.stat(src.ID, func(s *SourceStats) { s.RateLimited++ })
	case errors.Is(pollErr, ErrCredential), errors.Is(pollErr, ErrNotFound):
		st.Failing, st.LastError = true, pollErr.Error()
		st.Errors++
	case ctx.Err() == nil:
		st.LastError = pollErr.Error()
		st.Errors++
	}
	if pollErr != nil && ctx.Err() == nil {
		c.stat(src.ID, func(s *SourceStats) {
			s.Errors++
			if errors.Is(pollErr, ErrMalformed) {
				s.Malformed++
			}
		})
	}
	var wait time.Duration
	if failures != nil && ctx.Err() == nil && !errors.Is(pollErr, ErrCredential) {
		wait = c.schedule(src, pollErr, failures)
		st.NextPoll = st.LastPoll.Add(wait)
	}
	if errors.Is(pollErr, ErrCredential) {
		st.NextPoll = time.Time{}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.save(sctx, src.ID, st); err != nil {
		c.stat(src.ID, func(s *SourceStats) { s.Errors++ })
		c.log.Error("state not saved; the next start may read posts again (the bus drops the copies)",
			zap.String("source", src.ID), zap.Error(err))
		return wait, errors.Join(pollErr, err)
	}
	return wait, pollErr
}

// poll reads the new posts of src after st.SinceID and publishes them
// oldest first, moving SinceID with each one.
func (c *Collector) poll(ctx context.Context, src Source, st *State) error {
	if t := target(src); st.Target != t {
		*st = State{Target: t, Health: ingest.Health{Errors: st.Errors, Published: st.Published}, Gaps: st.Gaps, RateLimited: st.RateLimited,
			WithdrawnIDs: st.WithdrawnIDs, Withdrawn: st.Withdrawn}
	}
	if src.Username != "" && st.UserID == "" {
		if err := c.resolveUser(ctx, src, st); err != nil {
			return err
		}
	}
	tweets, inc, err := c.fetch(ctx, src, st)
	if err != nil {
		return err
	}
	published := make(map[string]bool, len(tweets))
	for _, t := range tweets {
		published[t.ID] = true
	}
	for _, t := range tweets {
		if err := c.publish(ctx, src, st, t, inc, published); err != nil {
			return err
		}
		st.SinceID = t.ID
	}
	return nil
}

// resolveUser looks the source's username up once; the id is kept in the
// state, so later polls (and restarts) spend no request on it.
func (c *Collector) resolveUser(ctx context.Context, src Source, st *State) error {
	if src.UserID != "" {
		st.UserID, st.Username = src.UserID, src.Username
		return nil
	}
	var ans userAnswer
	c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
	_, err := c.api.get(ctx, "users/by/username", "/2/users/by/username/"+url.PathEscape(src.Username), url.Values{"user.fields": {userFields}}, &ans)
	if err != nil {
		return err
	}
	if ans.Data == nil {
		if len(ans.Errors) > 0 {
			return fmt.Errorf("%w: user @%s: %s", ErrNotFound, src.Username, ans.Errors[0].Detail)
		}
		return fmt.Errorf("%w: user lookup of @%s has no data", ErrMalformed, src.Username)
	}
	if !validID(ans.Data.ID) {
		return fmt.Errorf("%w: user lookup of @%s gave id %q", ErrMalformed, src.Username, ans.Data.ID)
	}
	st.UserID, st.Username = ans.Data.ID, ans.Data.Username
	if st.Username == "" {
		st.Username = src.Username
	}
	c.log.Info("resolved user", zap.String("source", src.ID), zap.String("username", st.Username), zap.String("user_id", st.UserID))
	return nil
}

// fetched holds what the pages of one poll included.
type fetched struct {
	users  map[string]user
	tweets map[string]tweet
	url    string
}

// fetch reads pages newest first until it reaches SinceID, runs out of
// pages or hits MaxPages, and returns the new posts oldest first. The
// first poll of a source takes the newest page only.
func (c *Collector) fetch(ctx context.Context, src Source, st *State) ([]tweet, *fetched, error) {
	q := url.Values{"tweet.fields": {tweetFields}, "expansions": {expansions}, "user.fields": {userFields},
		"max_results": {strconv.Itoa(c.cfg.MaxResults)}}
	var path, tokenParam string
	switch {
	case src.ListID != "":
		path, tokenParam = "/2/lists/"+src.ListID+"/tweets", "pagination_token"
	case src.Query != "":
		path, tokenParam = "/2/tweets/search/recent", "next_token"
		q.Set("query", src.Query)
	default:
		path, tokenParam = "/2/users/"+st.UserID+"/tweets", "pagination_token"
		var ex []string
		if src.ExcludeReplies {
			ex = append(ex, "replies")
		}
		if src.ExcludeRetweets {
			ex = append(ex, "retweets")
		}
		if len(ex) > 0 {
			q.Set("exclude", strings.Join(ex, ","))
		}
	}
	// Recent search refuses (400) a since_id older than its 7 days; post
	// ids carry their time, so such a cursor is dropped before it is sent.
	if src.Query != "" && st.SinceID != "" {
		if t, ok := snowflakeTime(st.SinceID); ok && c.cfg.Now().Sub(t) > searchWindow {
			c.log.Warn("last seen post is older than recent search reaches; reading the newest page, posts in between are lost",
				zap.String("source", src.ID), zap.String("since_id", st.SinceID), zap.Time("since", t))
			st.Gaps++
			c.stat(src.ID, func(s *SourceStats) { s.Gaps++ })
			st.SinceID = ""
		}
	}
	// Lists take no since_id: their pages are read until a known post.
	if st.SinceID != "" && src.ListID == "" {
		q.Set("since_id", st.SinceID)
	}
	inc := &fetched{users: map[string]user{}, tweets: map[string]tweet{}}
	seen := map[string]bool{}
	var out []tweet
	reached := st.SinceID == ""
	for pages := 0; pages < src.MaxPages; pages++ {
		var p page
		c.stat(src.ID, func(s *SourceStats) { s.Requests++ })
		u, err := c.api.get(ctx, src.endpoint(), path, q, &p)
		if err != nil {
			return nil, nil, err
		}
		if inc.url == "" {
			inc.url = u
		}
		c.stat(src.ID, func(s *SourceStats) { s.Pages++ })
		if len(p.Errors) > 0 {
			c.stat(src.ID, func(s *SourceStats) { s.PartialErrors += int64(len(p.Errors)) })
			c.log.Debug("partial errors in a page", zap.String("source", src.ID), zap.Int("count", len(p.Errors)), zap.String("first", p.Errors[0].Detail))
		}
		for _, us := range p.Includes.Users {
			inc.users[us.ID] = us
		}
		for _, t := range p.Includes.Tweets {
			inc.tweets[t.ID] = t
		}
		older := false
		for _, t := range p.Data {
			if !validID(t.ID) {
				c.stat(src.ID, func(s *SourceStats) { s.Malformed++ })
				c.log.Warn("post without a valid id skipped", zap.String("source", src.ID), zap.String("id", t.ID))
				continue
			}
			if st.SinceID != "" && !idLess(st.SinceID, t.ID) {
				older = true
				continue
			}
			if !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
		if older || p.Meta.NextToken == "" {
			reached = true
			break
		}
		if st.SinceID == "" {
			break // first poll: the newest page only
		}
		q.Set(tokenParam, p.Meta.NextToken)
	}
	if !reached {
		st.Gaps++
		c.stat(src.ID, func(s *SourceStats) { s.Gaps++ })
		c.log.Warn("max_pages reached before the last seen post; older new posts were not read",
			zap.String("source", src.ID), zap.Int("max_pages", src.MaxPages))
	}
	slices.SortFunc(out, func(a, b tweet) int {
		switch {
		case a.ID == b.ID:
			return 0
		case idLess(a.ID, b.ID):
			return -1
		}
		return 1
	})
	return out, inc, nil
}

// publish puts one post on the bus. A retweet carries its original's
// whole text and is forward_of the original; a quote is its own post with
// quote_of; a reply has reply_to.
func (c *Collector) publish(ctx context.Context, src Source, st *State, t tweet, inc *fetched, published map[string]bool) error {
	author := inc.users[t.AuthorID]
	username := author.Username
	// A user timeline holds only the user's own posts (retweets too), so
	// the looked-up username names them when the page has no author.
	if username == "" && src.Username != "" && (t.AuthorID == "" || t.AuthorID == st.UserID) {
		username = st.Username
	}
	item := wire.RawItem{
		Kind:       Kind,
		Source:     src.ID,
		NativeID:   t.ID,
		SourceCode: src.Code,
		SourceName: src.Name,
		URL:        PostURL(username, t.ID),
		Body:       t.fullText(),
		BodyFormat: wire.FormatText,
		Published:  t.CreatedAt,
		ObservedAt: c.cfg.Now().UTC(),
		Lang:       declaredLang(t.Lang),
		Fetch:      &wire.Fetch{URL: inc.url, Status: http.StatusOK},
	}
	if username != "" {
		item.Author = "@" + username
	}
	if item.SourceName == "" && author.Name != "" && src.Username != "" {
		item.SourceName = author.Name
	}
	if id := t.ref("retweeted"); id != "" {
		item.ForwardOf = c.ref(src, id, inc, published)
		if orig, ok := inc.tweets[id]; ok {
			item.Body = orig.fullText()
			if orig.CreatedAt != "" && item.Published == "" {
				item.Published = orig.CreatedAt
			}
		}
	}
	if id := t.ref("quoted"); id != "" {
		item.QuoteOf = c.ref(src, id, inc, published)
	}
	if id := t.ref("replied_to"); id != "" {
		item.ReplyTo = c.ref(src, id, inc, published)
	}
	ack, err := c.pub.Publish(ctx, item)
	if err != nil {
		return fmt.Errorf("x: %s: %w", src.ID, err)
	}
	if !ack.Duplicate {
		st.Published++
	}
	st.remember(t.ID, username, src.Recheck)
	c.stat(src.ID, func(s *SourceStats) {
		if ack.Duplicate {
			s.Duplicates++
		} else {
			s.Published++
		}
	})
	return nil
}

// ref names a referenced post by the source whose entry it will be: this
// source when this poll publishes it too, else the configured user source
// of its author, else the author's lower-cased username (give a source the
// account's username as id and its posts resolve across collectors).
func (c *Collector) ref(src Source, id string, inc *fetched, published map[string]bool) *wire.Ref {
	r := &wire.Ref{Kind: Kind, NativeID: id}
	orig, ok := inc.tweets[id]
	var username string
	if ok {
		username = inc.users[orig.AuthorID].Username
	}
	r.URL = PostURL(username, id)
	switch {
	case published[id]:
		r.Source = src.ID
	case username != "" && c.byUser[strings.ToLower(username)] != "":
		r.Source = c.byUser[strings.ToLower(username)]
	case username != "":
		r.Source = strings.ToLower(username)
	}
	// Without the author (a deleted or withheld original) nothing names
	// the source of its entry, and the reference stays unresolved.
	return r
}
