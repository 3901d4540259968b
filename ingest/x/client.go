package x

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
	"sync"
	"time"
)

// Errors a request can end with.
var (
	// ErrCredential: X answered 401 or 403. The bearer token is wrong,
	// revoked, or its access tier does not include the endpoint; nothing a
	// retry can fix, so the collector stops polling with it.
	ErrCredential = errors.New("x: credential rejected")
	// ErrRateLimited: a 429, or a window the last answer said is used up.
	ErrRateLimited = errors.New("x: rate limited")
	// ErrMalformed: a 200 whose body is not the JSON the endpoint documents.
	ErrMalformed = errors.New("x: malformed response")
	// ErrNotFound: the user or list does not exist (or is suspended).
	ErrNotFound = errors.New("x: not found")
)

// RateLimitError says which endpoint is limited and until when.
type RateLimitError struct {
	Endpoint string
	Reset    time.Time
	// Sent is false when the request was not sent at all because the last
	// answer of the endpoint said its window was used up.
	Sent bool
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: %s until %s", ErrRateLimited, e.Endpoint, e.Reset.UTC().Format(time.RFC3339))
}

func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// CredentialError carries X's own words on a 401 or 403.
type CredentialError struct {
	Endpoint string
	Status   int
	Detail   string
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("%v: %s answered HTTP %d (%s); polling with this token stopped, fix x.bearer_token and restart",
		ErrCredential, e.Endpoint, e.Status, e.Detail)
}

func (e *CredentialError) Unwrap() error { return ErrCredential }

// window is what an endpoint's last answer said of its rate limit.
type window struct {
	remaining int
	reset     time.Time
}

// client is a thin X API v2 client on net/http: app-only bearer token,
// one rate-limit window per endpoint from the x-rate-limit-* headers.
type client struct {
	http    *http.Client
	base    string
	token   string
	agent   string
	maxBody int64
	now     func() time.Time

	mu     sync.Mutex
	limits map[string]window
}

// problem is an entry of a v2 "errors" array, or a whole error body.
type problem struct {
	Title        string `json:"title"`
	Detail       string `json:"detail"`
	Type         string `json:"type"`
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Value        string `json:"value"`
}

// get sends GET base+path?q for the named endpoint and decodes a 200 body
// into out. The request URL without the token is returned for the record.
func (c *client) get(ctx context.Context, endpoint, path string, q url.Values, out any) (string, error) {
	reqURL := c.base + path
	if len(q) > 0 {
		reqURL += "?" + q.Encode()
	}
	c.mu.Lock()
	w, known := c.limits[endpoint]
	c.mu.Unlock()
	if known && w.remaining <= 0 && c.now().Before(w.reset) {
		return reqURL, &RateLimitError{Endpoint: endpoint, Reset: w.reset}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reqURL, nil)
	if err != nil {
		return reqURL, fmt.Errorf("x: request %s: %w", endpoint, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", c.agent)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return reqURL, fmt.Errorf("x: %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	c.note(endpoint, resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return reqURL, fmt.Errorf("x: %s: read body: %w", endpoint, err)
	}
	if int64(len(body)) > c.maxBody {
		return reqURL, fmt.Errorf("%w: %s: body over %d bytes", ErrMalformed, endpoint, c.maxBody)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		reset := c.resetOf(resp.Header)
		c.mu.Lock()
		c.limits[endpoint] = window{remaining: 0, reset: reset}
		c.mu.Unlock()
		return reqURL, &RateLimitError{Endpoint: endpoint, Reset: reset, Sent: true}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return reqURL, &CredentialError{Endpoint: endpoint, Status: resp.StatusCode, Detail: describe(body)}
	case resp.StatusCode == http.StatusNotFound:
		return reqURL, fmt.Errorf("%w: %s: HTTP 404 (%s)", ErrNotFound, endpoint, describe(body))
	case resp.StatusCode != http.StatusOK:
		return reqURL, fmt.Errorf("x: %s: HTTP %d (%s)", endpoint, resp.StatusCode, describe(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return reqURL, fmt.Errorf("%w: %s: %w", ErrMalformed, endpoint, err)
	}
	return reqURL, nil
}

// note keeps the rate-limit headers of an answer.
func (c *client) note(endpoint string, h http.Header) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("x-rate-limit-remaining")))
	if err != nil {
		return
	}
	c.mu.Lock()
	c.limits[endpoint] = window{remaining: rem, reset: c.resetOf(h)}
	c.mu.Unlock()
}

// resetOf reads x-rate-limit-reset (Unix seconds); without it, a window is
// assumed to last X's usual 15 minutes.
func (c *client) resetOf(h http.Header) time.Time {
	if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-reset")), 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0)
	}
	return c.now().Add(15 * time.Minute)
}

// describe gives the title and detail of an error body, or its start.
func describe(body []byte) string {
	var p problem
	if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "") {
		if p.Detail != "" && p.Detail != p.Title {
			return strings.TrimSpace(p.Title + ": " + p.Detail)
		}
		return p.Title
	}
	s := strings.TrimSpace(string(body))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
