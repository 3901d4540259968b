package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors a request can end with.
var (
	// ErrCredential: the instance answered 401 or 403 — the access token
	// is wrong or revoked, or the instance wants one and none is set.
	ErrCredential = errors.New("mastodon: credential rejected")
	// ErrRateLimited: a 429, or a window the last answer said is used up.
	ErrRateLimited = errors.New("mastodon: rate limited")
	// ErrMalformed: a 200 whose body is not the JSON the API documents.
	ErrMalformed = errors.New("mastodon: malformed response")
	// ErrNotFound: the account, list or status does not exist (404).
	ErrNotFound = errors.New("mastodon: not found")
)

// RateLimitError says until when an instance holds requests back.
type RateLimitError struct {
	Instance string
	Reset    time.Time
	Sent     bool
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: %s until %s", ErrRateLimited, e.Instance, e.Reset.UTC().Format(time.RFC3339))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// CredentialError carries the instance's own words on a 401 or 403.
type CredentialError struct {
	URL    string
	Status int
	Detail string
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("%v: %s answered HTTP %d (%s); this source stopped, set or fix its access_token and restart",
		ErrCredential, e.URL, e.Status, e.Detail)
}

func (e *CredentialError) Unwrap() error { return ErrCredential }

type window struct {
	remaining int
	reset     time.Time
}

// client is a thin Mastodon REST client: GET with an optional bearer
// token, Link-header pagination, and one rate-limit window per instance
// and token from the X-RateLimit-* headers.
type client struct {
	http    *http.Client
	agent   string
	maxBody int64
	timeout time.Duration
	now     func() time.Time

	mu     sync.Mutex
	limits map[string]window
}

func limitKey(base, token string) string { return base + "\x00" + token }

// get fetches rawURL and decodes a 200 body into out; it returns the URL
// of the next (older) page from the Link header, if any.
func (c *client) get(ctx context.Context, base, token, rawURL string, out any) (next string, err error) {
	key := limitKey(base, token)
	c.mu.Lock()
	w, known := c.limits[key]
	c.mu.Unlock()
	if known && w.remaining <= 0 && c.now().Before(w.reset) {
		return "", &RateLimitError{Instance: base, Reset: w.reset}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("mastodon: request %s: %w", rawURL, err)
	}
	c.headers(req, token, "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("mastodon: %w", err)
	}
	defer resp.Body.Close()
	c.note(key, resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return "", fmt.Errorf("mastodon: %s: read body: %w", rawURL, err)
	}
	if int64(len(body)) > c.maxBody {
		return "", fmt.Errorf("%w: %s: body over %d bytes", ErrMalformed, rawURL, c.maxBody)
	}
	if err := c.status(key, base, rawURL, resp, body); err != nil {
		return "", err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrMalformed, rawURL, err)
	}
	return nextLink(resp.Header.Values("Link")), nil
}

// status turns a non-200 answer into an error.
func (c *client) status(key, base, rawURL string, resp *http.Response, body []byte) error {
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		reset := c.resetOf(resp.Header)
		c.mu.Lock()
		c.limits[key] = window{remaining: 0, reset: reset}
		c.mu.Unlock()
		return &RateLimitError{Instance: base, Reset: reset, Sent: true}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &CredentialError{URL: rawURL, Status: resp.StatusCode, Detail: describe(body)}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return fmt.Errorf("%w: %s: HTTP %d (%s)", ErrNotFound, rawURL, resp.StatusCode, describe(body))
	}
	return fmt.Errorf("mastodon: %s: HTTP %d (%s)", rawURL, resp.StatusCode, describe(body))
}

func (c *client) headers(req *http.Request, token, accept string) {
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", accept)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

func (c *client) note(key string, h http.Header) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil {
		return
	}
	c.mu.Lock()
	c.limits[key] = window{remaining: rem, reset: c.resetOf(h)}
	c.mu.Unlock()
}

// resetOf reads X-RateLimit-Reset, an ISO 8601 time on Mastodon (Unix
// seconds accepted too); without it, Mastodon's 5-minute window.
func (c *client) resetOf(h http.Header) time.Time {
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	if d, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && d > 0 {
		return c.now().Add(time.Duration(d) * time.Second)
	}
	return c.now().Add(5 * time.Minute)
}

// nextLink finds rel="next" in Link headers: <url>; rel="next", <…>; rel="prev".
func nextLink(values []string) string {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(val, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}

// describe gives Mastodon's "error" (and description), or the body's start.
func describe(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		if e.Description != "" {
			return e.Error + ": " + e.Description
		}
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
