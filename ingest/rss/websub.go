package rss

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // WebSub hubs may still sign with sha1; it is accepted, not chosen.
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest/egress"
)

// WebSubConfig turns on WebSub (W3C Recommendation) subscriptions.
type WebSubConfig struct {
	// CallbackURL is the public base URL hubs reach this collector at; a
	// feed's callback is CallbackURL + "/" + its subject token.
	CallbackURL string
	// Listen is where the callback server listens (e.g. ":8090"); empty
	// means the caller mounts WebSubHandler itself.
	Listen string
	// Lease is the subscription lease asked of hubs (10 days).
	Lease time.Duration
	// SecretKey (at least 32 bytes, kept out of the bus, e.g. a 0600 file
	// in the data directory) derives each subscription's secret from the
	// nonce stored in the feed's state.
	SecretKey []byte
	// MaxBody caps a delivery's body (1 MiB; never more than the feed's
	// max_body). Deliveries are read only when they carry a well-formed
	// signature header.
	MaxBody int64
}

// ErrWebSubKey is returned when WebSub is on without a usable secret key.
var ErrWebSubKey = errors.New("rss: websub needs a secret key of at least 32 bytes")

// defaultPushMax is the delivery body cap when none is configured: pushed
// documents hold the new entries, not a whole archive.
const defaultPushMax = 1 << 20

// ErrWebSubConfig is returned for an unusable WebSub callback URL.
var ErrWebSubConfig = errors.New("rss: websub callback must be an absolute http(s) URL")

// Subscriptions are retried this long after a request the hub did not
// confirm, and renewed up to this long before their lease ends.
const (
	subscribeRetry = time.Hour
	renewMargin    = 24 * time.Hour
)

// verifyWindow is how long after a subscription request the hub's
// verification of it is accepted.
const verifyWindow = time.Hour

type websub struct {
	cfg    WebSubConfig
	c      *Collector
	client *http.Client
	wg     sync.WaitGroup
}

func newWebSub(cfg WebSubConfig, c *Collector) (*websub, error) {
	u, err := url.Parse(cfg.CallbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w, not %q", ErrWebSubConfig, cfg.CallbackURL)
	}
	if len(cfg.SecretKey) < 32 {
		return nil, ErrWebSubKey
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaultPushMax
	}
	cfg.CallbackURL = strings.TrimRight(cfg.CallbackURL, "/")
	return &websub{cfg: cfg, c: c, client: &http.Client{Transport: c.fetch.client.Transport, Timeout: 30 * time.Second}}, nil
}

// WebSubHandler is the handler of the WebSub callbacks, for mounting on
// a server of the caller's; nil when WebSub is not configured.
func (c *Collector) WebSubHandler() http.Handler {
	if c.websub == nil {
		return nil
	}
	return c.websub
}

// serve runs the callback server, if one is to listen, until ctx ends, and
// waits for subscription requests in flight.
func (w *websub) serve(ctx context.Context) {
	defer w.wg.Wait()
	if w.cfg.Listen == "" {
		<-ctx.Done()
		return
	}
	srv := &http.Server{
		Addr: w.cfg.Listen, Handler: w,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		// Polling carries on without push; the operator sees why.
		w.c.log.Error("websub callback server stopped; feeds are polled only", zap.String("listen", w.cfg.Listen), zap.Error(err))
		<-ctx.Done()
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-errc
	}
}

// ensure (re)subscribes fr at hub when it has no live subscription there.
// It runs under fr.mu; the request itself is sent from another goroutine
// because hubs may verify the intent before they answer it, and the
// verification needs fr.mu.
func (w *websub) ensure(ctx context.Context, fr *feedRun, hub, topic string, now time.Time) {
	ws := fr.st.WebSub
	same := ws != nil && ws.Hub == hub && ws.Topic == topic
	if same {
		// Renew a quarter of the lease before it ends, at most a day before.
		margin := min(renewMargin, ws.LeaseUntil.Sub(ws.Requested)/4)
		switch {
		case ws.Verified && now.Before(ws.LeaseUntil.Add(-margin)):
			return
		case now.Sub(ws.Requested) < subscribeRetry:
			return
		}
	}
	nonce := ""
	if same && ws.SecretNonce != "" {
		nonce = ws.SecretNonce
	} else {
		// A new subscription, or one stored by an older version with its
		// secret in clear: a fresh nonce, hence a fresh secret.
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		nonce = hex.EncodeToString(b)
		same = false
	}
	secret := w.secret(fr.feed.ID, nonce)
	next := &WebSubState{Hub: hub, Topic: topic, SecretNonce: nonce, Requested: now.UTC()}
	if same {
		next.Verified, next.LeaseUntil, next.Pushes = ws.Verified, ws.LeaseUntil, ws.Pushes
	}
	fr.st.WebSub = next
	callback := w.cfg.CallbackURL + "/" + strings.TrimPrefix(StateKey(fr.feed.ID), "rss.")
	form := url.Values{
		"hub.mode":          {"subscribe"},
		"hub.topic":         {topic},
		"hub.callback":      {callback},
		"hub.secret":        {secret},
		"hub.lease_seconds": {strconv.FormatInt(int64(w.cfg.Lease/time.Second), 10)},
	}
	id := fr.feed.ID
	w.wg.Go(func() {
		err := w.subscribe(ctx, hub, form)
		if err != nil {
			if errors.Is(err, egress.ErrRefused) {
				w.c.stats.refused.Add(1)
			}
			w.c.log.Warn("websub subscription request failed; polling continues", zap.String("feed", id), zap.String("hub", hub), zap.Error(err))
		} else {
			w.c.log.Info("websub subscription requested", zap.String("feed", id), zap.String("hub", hub), zap.String("topic", topic))
		}
		w.recordRequest(ctx, fr, nonce, err)
	})
}

// recordRequest keeps the outcome of a subscription request in the feed's
// state, where its health shows it; a request superseded meanwhile (a new
// nonce) is left alone.
func (w *websub) recordRequest(ctx context.Context, fr *feedRun, nonce string, err error) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	ws := fr.st.WebSub
	if ws == nil || ws.SecretNonce != nonce {
		return
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if ws.Error == msg {
		return
	}
	ws.Error = msg
	w.c.save(ctx, fr)
}

// secret derives a subscription's secret: HMAC-SHA256 of the feed and
// the stored nonce under the collector's key, hex-encoded (64 characters,
// under the 200 bytes hubs must accept).
func (w *websub) secret(feedID, nonce string) string {
	if nonce == "" {
		return ""
	}
	m := hmac.New(sha256.New, w.cfg.SecretKey)
	m.Write([]byte("newswire websub secret\x00" + feedID + "\x00" + nonce))
	return hex.EncodeToString(m.Sum(nil))
}

func (w *websub) subscribe(ctx context.Context, hub string, form url.Values) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("rss: websub subscribe: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", w.c.cfg.UserAgent)
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("rss: websub subscribe: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("rss: websub subscribe: hub answered %d: %q: %w", resp.StatusCode, msg, ErrStatus)
	}
	return nil
}

func (w *websub) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	token := strings.Trim(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if i := strings.LastIndexByte(token, '/'); i >= 0 {
		token = token[i+1:]
	}
	fr := w.c.byKey["rss."+token]
	switch r.Method {
	case http.MethodGet:
		w.verify(rw, r, fr)
	case http.MethodPost:
		w.deliver(rw, r, fr)
	default:
		http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers a hub's intent verification: it echoes the challenge only
// for the subscription this collector asked for.
func (w *websub) verify(rw http.ResponseWriter, r *http.Request, fr *feedRun) {
	q := r.URL.Query()
	mode, topic, challenge := q.Get("hub.mode"), q.Get("hub.topic"), q.Get("hub.challenge")
	if fr == nil {
		http.NotFound(rw, r)
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	ws := fr.st.WebSub
	ours := ws != nil && ws.Topic == topic
	now := w.c.clock.Now()
	switch mode {
	case "subscribe":
		// Only a verification of a request we just sent counts: anyone can
		// reach the callback, and a forged one with a years-long lease
		// would stop the renewals.
		if !ours || challenge == "" || ws.Requested.IsZero() || now.Sub(ws.Requested) > verifyWindow {
			http.NotFound(rw, r)
			return
		}
		lease := w.cfg.Lease
		if n, err := strconv.ParseInt(q.Get("hub.lease_seconds"), 10, 64); err == nil && n > 0 {
			lease = min(time.Duration(n)*time.Second, w.cfg.Lease) // a hub may grant less than asked, never more
		}
		ws.Verified, ws.LeaseUntil = true, now.Add(lease).UTC()
		w.c.save(r.Context(), fr)
		w.c.log.Info("websub subscription verified", zap.String("feed", fr.feed.ID), zap.String("hub", ws.Hub), zap.Time("lease_until", ws.LeaseUntil))
	case "unsubscribe":
		// This collector never unsubscribes; a request for a topic it
		// holds is someone else's doing and is refused.
		if ours || challenge == "" {
			http.NotFound(rw, r)
			return
		}
	case "denied":
		w.c.log.Warn("websub hub denied the subscription; polling continues", zap.String("feed", fr.feed.ID), zap.String("reason", q.Get("hub.reason")))
		if ours {
			ws.Verified = false
			w.c.save(r.Context(), fr)
		}
		rw.WriteHeader(http.StatusOK)
		return
	default:
		http.Error(rw, "unknown hub.mode", http.StatusBadRequest)
		return
	}
	rw.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(rw, challenge)
}

// deliver takes pushed content. A delivery without a valid signature is
// acknowledged, as the protocol requires, and ignored.
func (w *websub) deliver(rw http.ResponseWriter, r *http.Request, fr *feedRun) {
	if fr == nil {
		w.c.stats.pushRejected.Add(1)
		// 410 tells the hub to drop a subscription nobody here holds.
		http.Error(rw, "no such subscription", http.StatusGone)
		return
	}
	// An unsigned or malformed delivery is refused before its body is
	// read: anyone can reach the callback.
	sigHeader := r.Header.Get("X-Hub-Signature")
	if _, _, ok := parseSignature(sigHeader); !ok {
		w.c.stats.pushRejected.Add(1)
		w.c.log.Warn("websub delivery without a well-formed signature ignored", zap.String("feed", fr.feed.ID), zap.String("remote", r.RemoteAddr))
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	limit := min(w.cfg.MaxBody, fr.feed.MaxBody)
	if r.ContentLength > limit {
		w.c.stats.pushRejected.Add(1)
		w.c.log.Warn("websub delivery over the size cap", zap.String("feed", fr.feed.ID), zap.Int64("content_length", r.ContentLength), zap.Int64("cap", limit))
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(len(body)) > limit {
		w.c.stats.pushRejected.Add(1)
		w.c.log.Warn("websub delivery unreadable or over the size cap", zap.String("feed", fr.feed.ID), zap.Int("bytes", len(body)), zap.Error(err))
		http.Error(rw, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	ws := fr.st.WebSub
	if ws == nil || !validSignature(sigHeader, w.secret(fr.feed.ID, ws.SecretNonce), body) {
		w.c.stats.pushRejected.Add(1)
		w.c.log.Warn("websub delivery with a missing or wrong signature ignored", zap.String("feed", fr.feed.ID), zap.String("remote", r.RemoteAddr))
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	resp := &response{Status: 0, ContentType: r.Header.Get("Content-Type"), Body: body}
	doc, err := w.c.decode(fr.feed, resp)
	if err != nil {
		w.c.stats.pushRejected.Add(1)
		w.c.log.Warn("websub delivery not a feed; polling will pick the items up", zap.String("feed", fr.feed.ID), zap.Error(err))
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	now := w.c.clock.Now()
	n, _, err := w.c.publish(r.Context(), fr, doc, resp, now)
	ws.Pushes++
	fr.st.Observe(now, n) // pushed items are news as much as polled ones
	w.c.save(r.Context(), fr)
	if err != nil {
		// The items not published stay out of the seen-window, so the
		// next poll publishes them; the hub need not redeliver.
		w.c.log.Warn("websub delivery partly published; polling will retry the rest", zap.String("feed", fr.feed.ID), zap.Error(err))
	}
	w.c.stats.pushes.Add(1)
	w.c.log.Debug("websub delivery", zap.String("feed", fr.feed.ID), zap.Int("published", n))
	rw.WriteHeader(http.StatusAccepted)
}

// parseSignature reads X-Hub-Signature: "<method>=<hex hmac of body>",
// with a known method and a digest of that method's length.
func parseSignature(header string) (func() hash.Hash, []byte, bool) {
	method, sig, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok {
		return nil, nil, false
	}
	var h func() hash.Hash
	var size int
	switch strings.ToLower(method) {
	case "sha1":
		h, size = sha1.New, sha1.Size
	case "sha256":
		h, size = sha256.New, sha256.Size
	case "sha384":
		h, size = sha512.New384, sha512.Size384
	case "sha512":
		h, size = sha512.New, sha512.Size
	default:
		return nil, nil, false
	}
	want, err := hex.DecodeString(sig)
	if err != nil || len(want) != size {
		return nil, nil, false
	}
	return h, want, true
}

// validSignature checks X-Hub-Signature against the body.
func validSignature(header, secret string, body []byte) bool {
	h, want, ok := parseSignature(header)
	if !ok || secret == "" {
		return false
	}
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), want)
}

// linkHeader finds the target of the first Link header value with rel.
func linkHeader(h http.Header, rel string) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") {
					for _, r := range strings.Fields(strings.Trim(val, `"`)) {
						if strings.EqualFold(r, rel) {
							return target[1 : len(target)-1]
						}
					}
				}
			}
		}
	}
	return ""
}
