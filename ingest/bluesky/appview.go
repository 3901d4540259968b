package bluesky

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Errors of AppView calls.
var (
	// ErrRateLimited: the AppView kept answering 429 (or wanted a longer
	// wait than Config.MaxRateWait).
	ErrRateLimited = errors.New("bluesky: rate limited by the AppView")
	// ErrHandleNotFound: resolveHandle does not know the handle.
	ErrHandleNotFound = errors.New("bluesky: handle does not resolve")
	// ErrRefused: the AppView answered 401 or 403. The public AppView
	// needs no login, so it is not one (appview_url points elsewhere) or
	// something in front of it refuses this client; retrying soon cannot
	// help. XRPCError unwraps to it.
	ErrRefused = errors.New("bluesky: the AppView refused the request")
)

// XRPCError is an AppView answer other than 200, with the XRPC error name
// and message when the body carried them.
type XRPCError struct {
	Method  string
	Status  int
	Name    string
	Message string
}

func (e *XRPCError) Error() string {
	s := fmt.Sprintf("bluesky: %s: HTTP %d", e.Method, e.Status)
	if e.Name != "" {
		s += " " + e.Name
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if errors.Is(e, ErrRefused) {
		s += " (the AppView refuses unauthenticated reads from this collector: check appview_url, the public AppView " +
			DefaultAppViewURL + " needs no login, and whether a proxy or firewall blocks this address or user agent)"
	}
	return s
}

// Unwrap gives ErrRefused for a 401 or 403.
func (e *XRPCError) Unwrap() error {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return ErrRefused
	}
	return nil
}

// unreadable reports an AppView answer that says the account cannot be
// read until someone acts — the AppView refuses this client (401, 403),
// or does not serve the account (400: not found, taken down, blocked) —
// as opposed to a failure a retry may cure (network, 5xx, rate limit).
func unreadable(err error) bool {
	var xe *XRPCError
	return errors.As(err, &xe) && (errors.Is(xe, ErrRefused) || xe.Status == http.StatusBadRequest)
}

// maxRateAttempts bounds how often one call is retried after a 429.
const maxRateAttempts = 4

// xrpc GETs an AppView query and decodes its JSON answer into out. A 429
// (or 503) is waited out — RateLimit-Reset (Unix seconds) or Retry-After,
// at most Config.MaxRateWait — and retried a few times, each wait counted.
func (c *Collector) xrpc(ctx context.Context, method string, params url.Values, out any) (string, error) {
	u := c.cfg.AppViewURL + "/xrpc/" + method
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	for attempt := 1; ; attempt++ {
		wait, err := c.get(ctx, method, u, out)
		if err == nil || wait == 0 {
			return u, err
		}
		if attempt >= maxRateAttempts || wait > c.cfg.MaxRateWait {
			return u, fmt.Errorf("%w: %s (wanted a wait of %s, attempt %d): %w", ErrRateLimited, method, wait, attempt, err)
		}
		c.stat(func(s *Stats) { s.RateLimited++ })
		c.log.Warn("AppView rate limit; waiting", zap.String("method", method), zap.Duration("wait", wait), zap.Int("attempt", attempt))
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return u, err
		}
	}
}

// get does one request; wait > 0 asks the caller to retry after it.
func (c *Collector) get(ctx context.Context, method, u string, out any) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("bluesky: %s: %w", method, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bluesky: %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return 0, fmt.Errorf("bluesky: %s: read answer: %w", method, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		xe := xrpcError(method, resp.StatusCode, data)
		return c.rateWait(resp.Header), xe
	}
	if resp.StatusCode != http.StatusOK {
		return 0, xrpcError(method, resp.StatusCode, data)
	}
	if int64(len(data)) > c.cfg.MaxBody {
		return 0, fmt.Errorf("bluesky: %s: answer over %d bytes", method, c.cfg.MaxBody)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return 0, fmt.Errorf("bluesky: %s: answer is not the expected JSON: %w", method, err)
	}
	return 0, nil
}

func xrpcError(method string, status int, body []byte) *XRPCError {
	e := &XRPCError{Method: method, Status: status}
	var v struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) == nil {
		e.Name, e.Message = clip(v.Error, 100), clip(v.Message, 300)
	}
	return e
}

// rateWait reads how long the AppView wants us to wait: RateLimit-Reset
// (the time the window resets, in Unix seconds), else Retry-After
// (seconds or an HTTP date), else a minute.
func (c *Collector) rateWait(h http.Header) time.Duration {
	now := c.cfg.Now()
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(n, 0).Sub(now); d > 0 {
				return d + time.Second // the reset second itself may still be limited
			}
			return time.Second
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return max(time.Duration(n)*time.Second, time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), time.Second)
		}
	}
	return time.Minute
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// resolveHandle asks the AppView for the DID of a handle.
func (c *Collector) resolveHandle(ctx context.Context, handle string) (string, error) {
	var out struct {
		DID string `json:"did"`
	}
	_, err := c.xrpc(ctx, "com.atproto.identity.resolveHandle", url.Values{"handle": {handle}}, &out)
	var xe *XRPCError
	if errors.As(err, &xe) && xe.Status == http.StatusBadRequest {
		return "", fmt.Errorf("%w: %q: %w", ErrHandleNotFound, handle, err)
	}
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out.DID, "did:") {
		return "", fmt.Errorf("bluesky: resolveHandle %q answered %q, not a DID", handle, clip(out.DID, 100))
	}
	return out.DID, nil
}

// feedViewPost is one item of getAuthorFeed.
type feedViewPost struct {
	Post   postView `json:"post"`
	Reason *struct {
		Type string `json:"$type"`
		// URI and CID name the repost record (absent in answers from
		// before late 2024).
		URI string `json:"uri"`
		CID string `json:"cid"`
		By  struct {
			DID    string `json:"did"`
			Handle string `json:"handle"`
		} `json:"by"`
		IndexedAt string `json:"indexedAt"`
	} `json:"reason"`
}

type postView struct {
	URI    string `json:"uri"`
	CID    string `json:"cid"`
	Author struct {
		DID    string `json:"did"`
		Handle string `json:"handle"`
	} `json:"author"`
	Record    json.RawMessage `json:"record"`
	IndexedAt string          `json:"indexedAt"`
}

type authorFeed struct {
	Cursor string         `json:"cursor"`
	Feed   []feedViewPost `json:"feed"`
}

// authorFeedPage reads one page of an actor's feed, newest first.
func (c *Collector) authorFeedPage(ctx context.Context, did, cursor string, limit int) (authorFeed, string, error) {
	params := url.Values{"actor": {did}, "limit": {strconv.Itoa(limit)}, "filter": {"posts_with_replies"}}
	if cursor != "" {
		params.Set("cursor", cursor)
	}
	var out authorFeed
	u, err := c.xrpc(ctx, "app.bsky.feed.getAuthorFeed", params, &out)
	return out, u, err
}

// posts reads post views by URI (at most 25 per call).
func (c *Collector) posts(ctx context.Context, uris []string) (map[string]postView, string, error) {
	var out struct {
		Posts []postView `json:"posts"`
	}
	u, err := c.xrpc(ctx, "app.bsky.feed.getPosts", url.Values{"uris": uris}, &out)
	if err != nil {
		return nil, u, err
	}
	m := make(map[string]postView, len(out.Posts))
	for _, p := range out.Posts {
		m[p.URI] = p
	}
	return m, u, nil
}
