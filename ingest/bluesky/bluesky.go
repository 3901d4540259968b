// Package bluesky follows Bluesky accounts: live through Jetstream (a JSON
// view of the AT Protocol firehose, over WebSocket), and through the
// public AppView's getAuthorFeed on start and after a long disconnect, so
// that nothing posted while newswire was down is missed. Posts, reposts
// and deletions become raw items of kind "bluesky" named by the post's
// at:// URI. See README.md for options, limits and failure modes.
package bluesky

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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
)

// Kind is the raw item kind and the config kind.
const Kind = "bluesky"

// Public instances used unless configured otherwise.
const (
	DefaultJetstreamURL = "wss://jetstream2.us-east.bsky.network/subscribe"
	DefaultAppViewURL   = "https://public.api.bsky.app"
)

// Compression modes of the Jetstream connection.
const (
	// CompressionZstd asks Jetstream for zstd frames (compress=true), which
	// use Jetstream's published dictionary; text frames are read as well,
	// so a server that ignores the request still works.
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

// StateStore is the part of the wire_source KV bucket the collector uses.
type StateStore interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Put(ctx context.Context, key string, value []byte) (uint64, error)
}

// Account is one followed Bluesky account (one configured source).
type Account struct {
	ID   string
	Code string
	Name string
	// Handle is the account's handle (alice.bsky.social); DID, when set,
	// pins the account and skips resolving the handle.
	Handle string
	DID    string
	// Reposts also follows the account's reposts (app.bsky.feed.repost);
	// SkipReplies leaves its replies out.
	Reposts     bool
	SkipReplies bool
	// Backfill is how many of the latest posts the first start takes from
	// the AppView (default 20); later starts read back to the stored cursor.
	Backfill int
}

// Config configures one collector: one Jetstream connection for all its
// accounts, and one AppView.
type Config struct {
	Accounts     []Account
	JetstreamURL string
	AppViewURL   string
	// Compression is CompressionZstd (default) or CompressionNone.
	Compression string
	UserAgent   string
	// Timeout bounds an AppView request and the WebSocket handshake (30s).
	Timeout time.Duration
	// MaxFrame is the largest Jetstream event read, after decompression
	// (default 1 MiB); larger frames are skipped and counted. MaxBody caps
	// an AppView answer (default 8 MiB).
	MaxFrame int64
	MaxBody  int64
	// Rewind is how far before the stored cursor a reconnect asks
	// Jetstream to start (default 5s), since events arrive slightly out
	// of time order; replayed events are recognised and not published twice.
	Rewind time.Duration
	// GapAfter: a reconnect after a disconnect this long (default 10m)
	// reads every account's AppView feed back to the cursor too.
	GapAfter time.Duration
	// MaxBackfillPages bounds one account's AppView read (default 10
	// pages of BackfillPageSize, default 50).
	MaxBackfillPages int
	BackfillPageSize int
	// BackoffMin and BackoffMax bound the wait between reconnects
	// (default 1s and 2m, doubled per failure, with jitter).
	BackoffMin, BackoffMax time.Duration
	// MaxRateWait is the longest AppView 429 wait the collector accepts
	// before giving up a call (default 15m).
	MaxRateWait time.Duration
	// SaveInterval is how often the cursor is written while events flow
	// (default 10s, and at least 100ms per account, since each write is one
	// key per account); it is also written on every publish and disconnect.
	SaveInterval time.Duration
	// RetryInterval is how often a handle that did not resolve, or a
	// backfill that failed, is tried again (default 1h).
	RetryInterval time.Duration
	// PingInterval is how often an idle connection is checked (default 30s).
	PingInterval time.Duration
	// Now and Sleep are the clock; tests replace them so that no test
	// waits for real.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// State is what the collector keeps per account in wire_source under
// StateKey(source id).
type State struct {
	// Handle is the configured handle DID was resolved from.
	Handle string `json:"handle"`
	DID    string `json:"did,omitempty"`
	// Cursor is the time_us of the last Jetstream event handled while this
	// account was subscribed; the next start reads from it.
	Cursor int64 `json:"cursor,omitempty"`
	ingest.Health
	// Known lists recently published records, oldest first, as
	// "p/<rkey>@<cid>" (post) or "r/<rkey>@<cid>" (repost), at most
	// maxKnown: a record seen again (cursor rewind, AppView and Jetstream
	// both) is not published twice, and only a known record is withdrawn
	// when deleted (then it leaves the list, so it is withdrawn once).
	Known []string `json:"known,omitempty"`
	// NeedsFill: the AppView feed must be read back to FillFrom (a
	// time_us; 0 means the Backfill latest posts) — on every start and
	// after a long disconnect. Both are stored, so that a read that fails
	// (and a restart before it is retried) still covers the whole gap,
	// however far the cursor has moved since.
	NeedsFill bool  `json:"needs_fill,omitempty"`
	FillFrom  int64 `json:"fill_from,omitempty"`
	Withdrawn int64 `json:"withdrawn"`
	Skipped   int64 `json:"skipped"`
}

// maxKnown bounds State.Known.
const maxKnown = 500

// StateKey is the wire_source key of a bluesky source.
func StateKey(sourceID string) string { return ingest.HealthKey(Kind, sourceID) }

// Stats are the collector's counters since start.
type Stats struct {
	Connects, Reconnects int64
	// Frames read; Events are frames that decoded as Jetstream events.
	Frames, Events int64
	// Malformed frames and records (not JSON, missing fields, bad URIs,
	// undecodable zstd) and Oversized frames are skipped.
	Malformed, Oversized int64
	// Ignored events: other accounts, collections or kinds.
	Ignored int64
	// Published counts items the bus stored as new; Duplicates items it
	// or the collector already had; Skipped posts without text, replies
	// left out, reposts of posts no longer there.
	Published, Duplicates, Skipped int64
	// Withdrawn counts withdrawals published; UnknownDeletes deletions of
	// records the collector never published (nothing to withdraw).
	Withdrawn, UnknownDeletes int64
	// Backfills are AppView reads of an account's feed, BackfillPages
	// their pages; BackfillTruncated reads that hit MaxBackfillPages.
	Backfills, BackfillPages, BackfillTruncated int64
	// RateLimited counts AppView 429/503 answers waited out.
	RateLimited int64
	// BadFacets counts link facets that could not be applied.
	BadFacets int64
	// Errors counts failed connections, AppView calls and state writes.
	Errors int64
}

// account is an Account with its state while the collector runs.
type account struct {
	Account
	st State
	// subscribed: the current Jetstream connection carries this account,
	// so the connection's cursor is its cursor.
	subscribed bool
	// retryAt, after a failed resolve or AppView read, is when to try again.
	retryAt time.Time
}

// Collector follows the configured accounts.
type Collector struct {
	cfg      Config
	pub      ingest.Publisher
	kv       StateStore
	client   *http.Client
	wsClient *http.Client
	log      *zap.Logger

	accounts []*account
	byDID    map[string]*account
	// cursor is the highest time_us handled on the current connection.
	cursor int64
	// fillAt (Unix ns) is when an AppView read that an event deferred is
	// due; the connection's watcher recycles the connection then.
	fillAt atomic.Int64

	mu    sync.Mutex
	stats Stats
}

// New checks cfg and returns a collector. client (the AppView's) may be nil.
func New(cfg Config, pub ingest.Publisher, kv StateStore, client *http.Client, log *zap.Logger) (*Collector, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.Accounts) == 0 {
		return nil, errors.New("bluesky: no accounts configured")
	}
	if pub == nil || kv == nil {
		return nil, errors.New("bluesky: a publisher and the wire_source bucket are required")
	}
	if cfg.JetstreamURL == "" {
		cfg.JetstreamURL = DefaultJetstreamURL
	}
	if cfg.AppViewURL == "" {
		cfg.AppViewURL = DefaultAppViewURL
	}
	if err := CheckJetstreamURL(cfg.JetstreamURL); err != nil {
		return nil, err
	}
	if err := CheckAppViewURL(cfg.AppViewURL); err != nil {
		return nil, err
	}
	cfg.AppViewURL = strings.TrimSuffix(cfg.AppViewURL, "/")
	switch cfg.Compression {
	case "":
		cfg.Compression = CompressionZstd
	case CompressionZstd, CompressionNone:
	default:
		return nil, fmt.Errorf("bluesky: compression must be %q or %q, not %q", CompressionZstd, CompressionNone, cfg.Compression)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.Rewind, 5*time.Second)
	def(&cfg.GapAfter, 10*time.Minute)
	def(&cfg.BackoffMin, time.Second)
	def(&cfg.BackoffMax, 2*time.Minute)
	def(&cfg.MaxRateWait, 15*time.Minute)
	def(&cfg.SaveInterval, 10*time.Second)
	def(&cfg.RetryInterval, time.Hour)
	def(&cfg.PingInterval, 30*time.Second)
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = 1 << 20
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 8 << 20
	}
	if cfg.MaxBackfillPages <= 0 {
		cfg.MaxBackfillPages = 10
	}
	if cfg.BackfillPageSize <= 0 || cfg.BackfillPageSize > 100 {
		cfg.BackfillPageSize = 50
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "newswire/1 (+https://github.com/newswire/newswire)"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = ingest.Sleep
	}
	if client == nil {
		client = &http.Client{Timeout: cfg.Timeout}
	}
	c := &Collector{cfg: cfg, pub: pub, kv: kv, client: client, log: log.Named("bluesky"), byDID: map[string]*account{}}
	// The WebSocket dial must not carry a client-wide timeout (the
	// connection lives on); the handshake has its own context deadline.
	c.wsClient = &http.Client{Transport: client.Transport}
	seen := map[string]bool{}
	for i, a := range cfg.Accounts {
		if a.ID == "" || (a.Handle == "" && a.DID == "") {
			return nil, fmt.Errorf("bluesky: account %d needs an id and a handle or DID", i)
		}
		if seen[a.ID] {
			return nil, fmt.Errorf("bluesky: account id %q given twice", a.ID)
		}
		seen[a.ID] = true
		if a.DID != "" && !strings.HasPrefix(a.DID, "did:") {
			return nil, fmt.Errorf("bluesky: account %s: %q is not a DID", a.ID, a.DID)
		}
		a.Handle = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(a.Handle), "@"))
		if a.Backfill <= 0 {
			a.Backfill = 20
		}
		c.accounts = append(c.accounts, &account{Account: a})
	}
	return c, nil
}

// CheckJetstreamURL accepts a ws(s):// URL without fragment; query
// parameters other than the ones the collector sets are kept.
func CheckJetstreamURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bluesky: jetstream URL must be a ws:// or wss:// URL without user info or fragment, not %q", s)
	}
	return nil
}

// CheckAppViewURL accepts an http(s):// base URL without query or fragment.
func CheckAppViewURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bluesky: AppView URL must be an http(s) URL without query, fragment or user info, not %q", s)
	}
	return nil
}

// Stats returns a copy of the counters.
func (c *Collector) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Collector) stat(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// errNoAccounts: no account has a DID yet, and Jetstream without
// wantedDids would send the whole network.
var errNoAccounts = errors.New("bluesky: no account resolved to a DID; nothing to subscribe to")

// Run follows the accounts until ctx ends: it resolves handles, reads the
// AppView back to the stored cursor, then streams Jetstream, reconnecting
// with capped, jittered backoff. It returns nil when ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	dec, err := newZstdDecoder(c.cfg.MaxFrame)
	if err != nil {
		return err
	}
	defer dec.Close()
	c.load(ctx)
	for _, a := range c.accounts {
		c.cursor = max(c.cursor, a.st.Cursor)
		a.needFill()
	}
	if c.cursor == 0 {
		// First start: Jetstream begins from before the AppView read, so
		// that a post made in between is in one of them (or both).
		c.cursor = c.cfg.Now().UnixMicro()
	}
	failures := 0
	lastUp := c.cfg.Now()
	gapMarked := true // the start's backfill is already asked for
	for {
		if !gapMarked && c.cfg.Now().Sub(lastUp) >= c.cfg.GapAfter {
			c.log.Info("long disconnect; reading the AppView back to the cursor", zap.Duration("down", c.cfg.Now().Sub(lastUp)))
			for _, a := range c.accounts {
				a.needFill()
			}
			gapMarked = true
		}
		c.fillAt.Store(0)
		c.prepare(ctx)
		if ctx.Err() != nil {
			c.saveAll(ctx)
			return nil
		}
		connected, err := c.stream(ctx, dec)
		c.saveAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			failures, lastUp, gapMarked = 0, c.cfg.Now(), false
		}
		if errors.Is(err, errRetryPending) {
			continue
		}
		failures++
		wait := c.backoff(failures)
		if errors.Is(err, errNoAccounts) {
			wait = c.cfg.RetryInterval
		}
		c.stat(func(s *Stats) { s.Errors++; s.Reconnects++ })
		c.log.Warn("jetstream disconnected; reconnecting", zap.Int("failures", failures), zap.Duration("retry_in", wait), zap.Error(err))
		c.recordFailure(ctx, err, wait)
		if c.cfg.Sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// backoff is the wait after n consecutive failures: BackoffMin doubled
// per failure up to BackoffMax, then a random point in its upper half, so
// that many collectors dropped at once do not come back at once.
func (c *Collector) backoff(n int) time.Duration {
	d := c.cfg.BackoffMin << min(n-1, 20)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// prepare resolves handles and reads the AppView where needed. Failures
// are recorded in the account's health and retried after RetryInterval.
func (c *Collector) prepare(ctx context.Context) {
	now := c.cfg.Now()
	for _, a := range c.accounts {
		if ctx.Err() != nil {
			return
		}
		if now.Before(a.retryAt) {
			continue
		}
		if a.st.DID == "" {
			if err := c.resolve(ctx, a); err != nil {
				a.retryAt = now.Add(c.cfg.RetryInterval)
				continue
			}
		}
		if a.st.NeedsFill {
			a.st.Polls++ // a read of the account's feed on the AppView
			if err := c.backfill(ctx, a); err != nil {
				a.retryAt = now.Add(c.cfg.RetryInterval)
				if ctx.Err() == nil {
					c.stat(func(s *Stats) { s.Errors++ })
					a.st.LastError = err.Error()
					// A refusal is no passing fault: the source is failing
					// until the AppView serves its feed again.
					a.st.Failing = unreadable(err)
					log := c.log.Warn
					if a.st.Failing {
						log = c.log.Error
					}
					log("AppView read failed; Jetstream goes on and the read is retried", zap.String("source", a.ID),
						zap.Bool("failing", a.st.Failing), zap.Duration("retry_in", c.cfg.RetryInterval), zap.Error(err))
				}
			} else {
				a.st.NeedsFill, a.st.FillFrom, a.retryAt = false, 0, time.Time{}
				a.st.LastError, a.st.Failing = "", false
			}
			c.save(ctx, a)
		}
	}
}

// resolve finds an account's DID: pinned, cached in state for the same
// handle, or from the AppView's resolveHandle.
func (c *Collector) resolve(ctx context.Context, a *account) error {
	if a.DID != "" {
		a.st.DID, a.st.Handle = a.DID, a.Handle
	} else {
		did, err := c.resolveHandle(ctx, a.Handle)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			c.stat(func(s *Stats) { s.Errors++ })
			a.st.Errors++
			a.st.LastError = err.Error()
			a.st.LastPoll = c.cfg.Now().UTC()
			a.st.NextPoll = a.st.LastPoll.Add(c.cfg.RetryInterval)
			a.st.Failing = errors.Is(err, ErrHandleNotFound) || errors.Is(err, ErrRefused)
			c.log.Error("handle not resolved; this account waits, the others go on", zap.String("source", a.ID),
				zap.String("handle", a.Handle), zap.Duration("retry_in", c.cfg.RetryInterval), zap.Error(err))
			c.save(ctx, a)
			return err
		}
		a.st.DID, a.st.Handle = did, a.Handle
		c.log.Info("handle resolved", zap.String("source", a.ID), zap.String("handle", a.Handle), zap.String("did", did))
	}
	a.st.Failing, a.st.LastError = false, ""
	if other, dup := c.byDID[a.st.DID]; dup && other != a {
		c.log.Warn("two sources follow one account; the second is ignored", zap.String("source", a.ID), zap.String("other", other.ID), zap.String("did", a.st.DID))
		a.st.DID = ""
		return fmt.Errorf("bluesky: %s follows the account of %s", a.ID, other.ID)
	}
	c.byDID[a.st.DID] = a
	c.save(ctx, a)
	return nil
}

// load reads every account's state. An unreadable state is logged,
// counted and replaced, so one bad key does not stop the others.
func (c *Collector) load(ctx context.Context) {
	for _, a := range c.accounts {
		e, err := c.kv.Get(ctx, StateKey(a.ID))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			c.stat(func(s *Stats) { s.Errors++ })
			c.log.Error("state not loaded; starting this account afresh", zap.String("source", a.ID), zap.Error(err))
			continue
		}
		var st State
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			c.stat(func(s *Stats) { s.Errors++ })
			c.log.Error("stored state is not valid JSON; starting this account afresh", zap.String("source", a.ID),
				zap.String("key", StateKey(a.ID)), zap.String("bucket", bus.BucketSource), zap.Error(err))
			continue
		}
		// A handle or pinned DID changed in the configuration since: the
		// cached DID is not this account's any more.
		if st.Handle != a.Handle || (a.DID != "" && st.DID != a.DID) {
			st.DID = ""
		}
		a.st = st
		if st.DID != "" {
			if _, dup := c.byDID[st.DID]; !dup {
				c.byDID[st.DID] = a
			} else {
				a.st.DID = ""
			}
		}
	}
}

func (c *Collector) save(ctx context.Context, a *account) {
	if a.subscribed {
		a.st.Cursor = max(a.st.Cursor, c.cursor)
	}
	data, err := json.Marshal(a.st)
	if err != nil {
		c.log.Error("state not encoded", zap.String("source", a.ID), zap.Error(err))
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.kv.Put(sctx, StateKey(a.ID), data); err != nil {
		c.stat(func(s *Stats) { s.Errors++ })
		c.log.Error("state not saved; a restart may read some events again (they are recognised) ", zap.String("source", a.ID), zap.Error(err))
	}
}

func (c *Collector) saveAll(ctx context.Context) {
	for _, a := range c.accounts {
		c.save(ctx, a)
	}
}

// pendingAt is the earliest time an account waiting for a resolve or an
// AppView read may try again; ok is false when none waits.
func (c *Collector) pendingAt() (at time.Time, ok bool) {
	for _, a := range c.accounts {
		if (a.st.DID == "" || a.st.NeedsFill) && (!ok || a.retryAt.Before(at)) {
			at, ok = a.retryAt, true
		}
	}
	return at, ok
}

// recordFailure notes a failed or dropped connection in the health of
// every account it carried (or would have carried).
func (c *Collector) recordFailure(ctx context.Context, err error, wait time.Duration) {
	now := c.cfg.Now().UTC()
	for _, a := range c.accounts {
		if a.st.DID == "" {
			continue // its own resolve error is what it shows
		}
		a.st.Polls++ // a Jetstream connection that failed or dropped
		a.st.Errors++
		a.st.LastError = err.Error()
		a.st.LastPoll = now
		a.st.NextPoll = now.Add(wait)
		c.save(ctx, a)
	}
}

// names gives the source id and profile name posts of did are referred
// to by: a followed account's source id and handle, else the DID for both
// (give a source its author's DID as id to have others' reposts of it linked).
func (c *Collector) names(did string) (source, profile string) {
	if a, ok := c.byDID[did]; ok {
		return a.ID, a.st.Handle
	}
	return did, did
}

// needFill asks for an AppView read back to the current cursor, unless
// one is pending already (from further back).
func (a *account) needFill() {
	if !a.st.NeedsFill {
		a.st.NeedsFill, a.st.FillFrom = true, a.st.Cursor
	}
}

// known reports whether key (see State.Known) was published already.
func (a *account) known(key string) bool { return slices.Contains(a.st.Known, key) }

func (a *account) remember(key string) {
	if a.known(key) {
		return
	}
	a.st.Known = append(a.st.Known, key)
	if over := len(a.st.Known) - maxKnown; over > 0 {
		a.st.Known = slices.Delete(a.st.Known, 0, over)
	}
}

// forget removes every version of a record ("p/<rkey>@") and says
// whether there was one.
func (a *account) forget(prefix string) bool {
	n := len(a.st.Known)
	a.st.Known = slices.DeleteFunc(a.st.Known, func(k string) bool { return strings.HasPrefix(k, prefix) })
	return len(a.st.Known) < n
}

func recordKey(letter, rkey, cid string) string { return letter + "/" + rkey + "@" + cid }
