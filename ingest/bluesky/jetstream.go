package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/zap"
)

// Errors of the Jetstream side.
var (
	// ErrMalformed marks a frame or record that cannot be read; it is
	// skipped, counted and logged.
	ErrMalformed = errors.New("bluesky: malformed Jetstream event")
	// ErrOversized marks a frame over Config.MaxFrame; it is skipped.
	ErrOversized = errors.New("bluesky: Jetstream frame over the size limit")
	// errRetryPending closes a healthy connection so that an account that
	// waits for a resolve or an AppView read is tried again.
	errRetryPending = errors.New("bluesky: reconnecting to retry waiting accounts")
)

// event is a Jetstream (v1 /subscribe) event.
type event struct {
	DID    string `json:"did"`
	TimeUS int64  `json:"time_us"`
	Kind   string `json:"kind"`
	Commit *struct {
		Rev        string          `json:"rev"`
		Operation  string          `json:"operation"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Record     json.RawMessage `json:"record"`
		CID        string          `json:"cid"`
	} `json:"commit"`
	Identity *struct {
		Handle string `json:"handle"`
	} `json:"identity"`
	Account *struct {
		Active bool   `json:"active"`
		Status string `json:"status"`
	} `json:"account"`
}

// decodeEvent reads one frame and checks the fields the collector relies on.
func decodeEvent(data []byte) (event, error) {
	var ev event
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("%w: not JSON: %w", ErrMalformed, err)
	}
	if len(ev.DID) < 5 || ev.DID[:4] != "did:" {
		return ev, fmt.Errorf("%w: no did", ErrMalformed)
	}
	if ev.TimeUS <= 0 {
		return ev, fmt.Errorf("%w: no time_us", ErrMalformed)
	}
	if ev.Kind == "commit" {
		cm := ev.Commit
		if cm == nil || cm.Collection == "" || cm.RKey == "" {
			return ev, fmt.Errorf("%w: commit without collection or rkey", ErrMalformed)
		}
		switch cm.Operation {
		case "create", "update":
			if len(cm.Record) == 0 || cm.CID == "" {
				return ev, fmt.Errorf("%w: %s of %s/%s without record or cid", ErrMalformed, cm.Operation, cm.Collection, cm.RKey)
			}
		case "delete":
		default:
			return ev, fmt.Errorf("%w: unknown commit operation %q", ErrMalformed, clip(cm.Operation, 40))
		}
	}
	return ev, nil
}

// subscribeURL is the Jetstream URL for the subscribed accounts, from the
// connection cursor less Config.Rewind.
func (c *Collector) subscribeURL(dids []string, reposts bool) (string, error) {
	u, err := url.Parse(c.cfg.JetstreamURL)
	if err != nil {
		return "", fmt.Errorf("bluesky: jetstream URL: %w", err)
	}
	q := u.Query()
	q["wantedCollections"] = []string{CollectionPost}
	if reposts {
		q["wantedCollections"] = append(q["wantedCollections"], CollectionRepost)
	}
	// maxMessageSizeBytes is not sent: the server would drop larger events
	// unseen, while the collector counts and logs the ones it skips.
	q["wantedDids"] = dids
	if c.cursor > 0 {
		q.Set("cursor", strconv.FormatInt(max(c.cursor-c.cfg.Rewind.Microseconds(), 1), 10))
	}
	if c.cfg.Compression == CompressionZstd {
		q.Set("compress", "true")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// stream connects once and handles events until the connection ends;
// connected says whether it got as far as reading.
func (c *Collector) stream(ctx context.Context, dec *zstd.Decoder) (connected bool, err error) {
	var dids []string
	reposts := false
	for _, a := range c.accounts {
		a.subscribed = false
		if a.st.DID != "" {
			dids = append(dids, a.st.DID)
			reposts = reposts || a.Reposts
		}
	}
	if len(dids) == 0 {
		return false, errNoAccounts
	}
	slices.Sort(dids)
	u, err := c.subscribeURL(dids, reposts)
	if err != nil {
		return false, err
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	conn, _, err := websocket.Dial(dctx, u, &websocket.DialOptions{
		HTTPClient: c.wsClient,
		HTTPHeader: http.Header{"User-Agent": {c.cfg.UserAgent}},
	})
	cancel()
	if err != nil {
		return false, fmt.Errorf("bluesky: connect to %s: %w", c.cfg.JetstreamURL, err)
	}
	defer conn.CloseNow()
	// Frames are limited while they are read (readFrame), so that one
	// oversized frame is skipped instead of closing the connection.
	conn.SetReadLimit(-1)

	now := c.cfg.Now().UTC()
	for _, a := range c.accounts {
		if a.st.DID != "" {
			a.subscribed = true
			a.st.Polls++ // a Jetstream connection
			a.st.Errors, a.st.LastPoll, a.st.LastSuccess, a.st.NextPoll = 0, now, now, time.Time{}
			if !a.st.NeedsFill {
				a.st.LastError = ""
			}
		}
	}
	c.saveAll(ctx)
	c.stat(func(s *Stats) { s.Connects++ })
	c.log.Info("jetstream connected", zap.Int("accounts", len(dids)), zap.Int64("cursor", c.cursor))

	var retry atomic.Bool
	due, pending := c.pendingAt()
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { c.watch(wctx, conn, &retry, due, pending) })
	defer func() { stop(); wg.Wait() }()

	// Each save writes one key per account: with many accounts the cursor
	// is written less often (a crash replays more, which is recognised).
	saveEvery := max(c.cfg.SaveInterval, time.Duration(len(c.accounts))*100*time.Millisecond)
	lastSave := c.cfg.Now()
	for {
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			if retry.Load() {
				return true, errRetryPending
			}
			return true, fmt.Errorf("bluesky: jetstream read: %w", err)
		}
		data, err := c.readFrame(typ, r, dec)
		c.stat(func(s *Stats) { s.Frames++ })
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOversized) {
				return true, err
			}
			c.skip(err, data)
			continue
		}
		if err := c.handle(ctx, data); err != nil {
			if errors.Is(err, ErrMalformed) {
				c.skip(err, data)
				continue
			}
			// The bus or the AppView failed: the event is not handled,
			// and the reconnect resumes before it.
			return true, err
		}
		if c.cfg.Now().Sub(lastSave) >= saveEvery {
			now := c.cfg.Now().UTC()
			for _, a := range c.accounts {
				if a.subscribed {
					a.st.LastPoll, a.st.LastSuccess = now, now
				}
			}
			c.saveAll(ctx)
			lastSave = c.cfg.Now()
		}
	}
}

// skip counts and logs a frame that cannot be used.
func (c *Collector) skip(err error, data []byte) {
	if errors.Is(err, ErrOversized) {
		c.stat(func(s *Stats) { s.Oversized++ })
		c.log.Warn("jetstream frame skipped", zap.Error(err))
		return
	}
	c.stat(func(s *Stats) { s.Malformed++ })
	c.log.Warn("jetstream frame skipped", zap.Error(err), zap.String("frame", clip(string(data), 200)))
}

// watch pings an idle connection, and closes it when an account waiting
// for a resolve or an AppView read is due to try again (the reconnect
// retries it; the cursor makes it lossless).
func (c *Collector) watch(ctx context.Context, conn *websocket.Conn, retry *atomic.Bool, due time.Time, pending bool) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if at := c.fillAt.Load(); at != 0 && (!pending || at < due.UnixNano()) {
			due, pending = time.Unix(0, at), true
		}
		if pending && !c.cfg.Now().Before(due) {
			retry.Store(true)
			_ = conn.Close(websocket.StatusNormalClosure, "reconnecting")
			return
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.log.Warn("jetstream ping failed; closing the connection", zap.Error(err))
			conn.CloseNow()
			return
		}
	}
}

// deferToFeed asks for an AppView read of the account's feed back to
// timeUS, RetryInterval from now; the connection is recycled then (watch).
func (c *Collector) deferToFeed(a *account, timeUS int64) {
	switch {
	case !a.st.NeedsFill:
		a.st.NeedsFill, a.st.FillFrom = true, timeUS
	case a.st.FillFrom > 0:
		a.st.FillFrom = min(a.st.FillFrom, timeUS)
	}
	at := c.cfg.Now().Add(c.cfg.RetryInterval)
	if a.retryAt.Before(at) {
		a.retryAt = at
	}
	c.fillAt.CompareAndSwap(0, at.UnixNano())
	c.save(context.Background(), a)
}

// readFrame reads one message up to MaxFrame bytes and decompresses a
// binary (zstd) one. A larger frame is read to its end and dropped.
func (c *Collector) readFrame(typ websocket.MessageType, r io.Reader, dec *zstd.Decoder) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, c.cfg.MaxFrame+1))
	if err != nil {
		return nil, fmt.Errorf("bluesky: jetstream read: %w", err)
	}
	if int64(len(data)) > c.cfg.MaxFrame {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return nil, fmt.Errorf("bluesky: jetstream read: %w", err)
		}
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrOversized, int64(len(data))+n, c.cfg.MaxFrame)
	}
	if typ != websocket.MessageBinary {
		return data, nil
	}
	out, err := dec.DecodeAll(data, nil)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || (err == nil && int64(len(out)) > c.cfg.MaxFrame) {
		return nil, fmt.Errorf("%w: zstd frame decompresses past %d bytes", ErrOversized, c.cfg.MaxFrame)
	}
	if err != nil {
		return data, fmt.Errorf("%w: binary frame is not zstd with the Jetstream dictionary: %w", ErrMalformed, err)
	}
	return out, nil
}

// handle acts on one event. It returns ErrMalformed for an event that
// cannot be read (skipped) and other errors for failures that a reconnect
// may cure (the bus, the AppView); the cursor moves past handled events only.
func (c *Collector) handle(ctx context.Context, data []byte) error {
	ev, err := decodeEvent(data)
	if err != nil {
		return err
	}
	c.stat(func(s *Stats) { s.Events++ })
	a := c.byDID[ev.DID]
	switch {
	case a == nil || !a.subscribed:
		c.stat(func(s *Stats) { s.Ignored++ })
	case ev.Kind == "commit":
		if err := c.commit(ctx, a, ev); err != nil {
			return err
		}
	case ev.Kind == "identity" && ev.Identity != nil && ev.Identity.Handle != "" && ev.Identity.Handle != a.st.Handle:
		c.log.Warn("account changed its handle; update the source's handle (links keep the configured one until then)",
			zap.String("source", a.ID), zap.String("configured", a.st.Handle), zap.String("new", ev.Identity.Handle))
	case ev.Kind == "account" && ev.Account != nil && !ev.Account.Active:
		c.log.Warn("account is not active at its host", zap.String("source", a.ID), zap.String("status", ev.Account.Status))
	default:
		c.stat(func(s *Stats) { s.Ignored++ })
	}
	c.cursor = max(c.cursor, ev.TimeUS)
	return nil
}

func (c *Collector) commit(ctx context.Context, a *account, ev event) error {
	cm := ev.Commit
	uri := URI{DID: ev.DID, Collection: cm.Collection, RKey: cm.RKey}
	switch {
	case cm.Collection == CollectionPost && cm.Operation == "delete":
		return c.withdraw(ctx, a, "p", uri)
	case cm.Collection == CollectionPost:
		return c.publishPost(ctx, a, uri, cm.CID, cm.Record, cm.Operation == "update", c.cfg.JetstreamURL)
	case cm.Collection == CollectionRepost && a.Reposts && cm.Operation == "delete":
		return c.withdraw(ctx, a, "r", uri)
	case cm.Collection == CollectionRepost && a.Reposts && cm.Operation == "create":
		return c.jetstreamRepost(ctx, a, uri, cm.CID, cm.Record, ev.TimeUS)
	}
	c.stat(func(s *Stats) { s.Ignored++ })
	return nil
}

// jetstreamRepost publishes a repost seen on Jetstream; the reposted post
// is read from the AppView, since the repost record names it only.
func (c *Collector) jetstreamRepost(ctx context.Context, a *account, uri URI, cid string, rec []byte, timeUS int64) error {
	key := recordKey("r", uri.RKey, cid)
	if a.known(key) {
		c.stat(func(s *Stats) { s.Duplicates++ })
		return nil
	}
	var r repostRecord
	if err := json.Unmarshal(rec, &r); err != nil {
		return fmt.Errorf("%w: repost %s: %w", ErrMalformed, uri, err)
	}
	subj, err := ParseURI(r.Subject.URI)
	if err != nil || subj.Collection != CollectionPost {
		return fmt.Errorf("%w: repost %s of %q, not a post", ErrMalformed, uri, clip(r.Subject.URI, 200))
	}
	views, fetchURL, err := c.posts(ctx, []string{subj.String()})
	var xe *XRPCError
	// A 4xx other than a refusal or a rate limit is about this post; a
	// refusal is about the collector, and the repost waits for the feed
	// read below, which marks the source failing while it lasts.
	if errors.As(err, &xe) && xe.Status >= 400 && xe.Status < 500 && xe.Status != http.StatusTooManyRequests && !errors.Is(xe, ErrRefused) {
		c.stat(func(s *Stats) { s.Errors++; s.Skipped++ })
		a.st.Skipped++
		c.log.Warn("reposted post not readable from the AppView; repost skipped", zap.String("source", a.ID), zap.String("repost", uri.String()), zap.Error(err))
		return nil
	}
	if err != nil && ctx.Err() != nil {
		return err
	}
	if err != nil {
		// The AppView is down or throttling: rather than hold up every
		// account's events behind this one, the repost is left to an
		// AppView read of the account's feed from here, retried later.
		c.stat(func(s *Stats) { s.Errors++ })
		c.deferToFeed(a, timeUS)
		c.log.Warn("reposted post not read; the account's AppView feed will be read from here instead", zap.String("source", a.ID),
			zap.String("repost", uri.String()), zap.Duration("retry_in", c.cfg.RetryInterval), zap.Error(err))
		return nil
	}
	view, ok := views[subj.String()]
	if !ok {
		c.stat(func(s *Stats) { s.Skipped++ })
		a.st.Skipped++
		c.log.Info("reposted post is gone (deleted or hidden); repost skipped", zap.String("source", a.ID), zap.String("post", subj.String()))
		return nil
	}
	return c.publishRepost(ctx, a, uri.String(), key, view, fetchURL, http.StatusOK)
}
