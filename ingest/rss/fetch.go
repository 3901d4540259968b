package rss

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors a fetch can end with; they are wrapped with the feed's URL.
var (
	ErrTooLarge         = errors.New("rss: body over the size cap")
	ErrTooManyRedirects = errors.New("rss: too many redirects")
	ErrRedirectLoop     = errors.New("rss: redirect loop")
	ErrBadRedirect      = errors.New("rss: redirect refused")
	ErrBodyTimeout      = errors.New("rss: body not read in time")
	ErrEncoding         = errors.New("rss: unsupported content encoding")
	ErrStatus           = errors.New("rss: unexpected HTTP status")
	ErrThrottled        = errors.New("rss: server asked to slow down")
)

// StatusError is an HTTP answer other than 200 or 304. It matches
// ErrThrottled for 429 and 503, ErrStatus otherwise.
type StatusError struct {
	Code int
	// RetryAfter is the server's Retry-After, zero when it gave none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("rss: HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Unwrap lets errors.Is tell throttling from other failures.
func (e *StatusError) Unwrap() error {
	if e.Code == http.StatusTooManyRequests || e.Code == http.StatusServiceUnavailable {
		return ErrThrottled
	}
	return ErrStatus
}

// response is what one fetch learnt.
type response struct {
	Status       int
	NotModified  bool
	Body         []byte
	ContentType  string
	ETag         string
	LastModified string
	Header       http.Header
	// PermanentURL is where a chain of 301/308 redirects from the
	// requested URL led, empty when there was none.
	PermanentURL string
	Date         time.Time
}

type fetcher struct {
	client      *http.Client
	userAgent   string
	bodyTimeout time.Duration
	now         func() time.Time
}

type traceKey struct{}

// redirectTrace follows one request's redirects so that only a chain of
// permanent redirects, starting at the configured URL, moves the feed.
type redirectTrace struct {
	permanent bool
	permURL   string
}

func newFetcher(cfg Config, now func() time.Time) *fetcher {
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// Every connection, redirects and WebSub hubs included, is
		// checked on the address it dials. A proxy from the environment
		// is dialled like any host, so it must be allowed to be used.
		DialContext:           cfg.Egress.DialContext(dialer),
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ResponseHeaderTimeout: cfg.HeaderTimeout,
		MaxIdleConns:          cfg.Workers * 2,
		MaxIdleConnsPerHost:   cfg.PerHost,
		IdleConnTimeout:       90 * time.Second,
		// Compression is negotiated and decoded here so that deflate is
		// accepted too and the size cap applies to the decoded bytes.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	maxRedirects := cfg.MaxRedirects
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, maxRedirects)
			}
			target := req.URL.String()
			// A feed may move, but not off the web or from TLS to plain text:
			// a permanent redirect would otherwise rewrite the stored URL.
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: to %s", ErrBadRedirect, target)
			}
			if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
				return fmt.Errorf("%w: from https down to %s", ErrBadRedirect, target)
			}
			for _, v := range via {
				if v.URL.String() == target {
					return fmt.Errorf("%w at %s", ErrRedirectLoop, target)
				}
			}
			if t, ok := req.Context().Value(traceKey{}).(*redirectTrace); ok && t.permanent {
				if code := req.Response.StatusCode; code == http.StatusMovedPermanently || code == http.StatusPermanentRedirect {
					t.permURL = target
				} else {
					t.permanent = false
				}
			}
			return nil
		},
	}
	return &fetcher{client: client, userAgent: cfg.UserAgent, bodyTimeout: cfg.Timeout, now: now}
}

func (f *fetcher) close() { f.client.CloseIdleConnections() }

// fetch GETs url with the stored validators and reads at most maxBody
// decoded bytes. A 304 is a success with NotModified set.
func (f *fetcher) fetch(ctx context.Context, url, etag, lastModified string, maxBody int64) (*response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	trace := &redirectTrace{permanent: true}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, traceKey{}, trace), http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("rss: request %s: %w", url, err)
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rss: fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	r := &response{
		Status:       resp.StatusCode,
		Header:       resp.Header,
		ContentType:  resp.Header.Get("Content-Type"),
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		PermanentURL: trace.permURL,
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		r.Date = d
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		r.NotModified = true
		return r, nil
	case resp.StatusCode != http.StatusOK:
		// A little of the body is read so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 16<<10))
		se := &StatusError{Code: resp.StatusCode}
		if se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), f.now())
		}
		return r, fmt.Errorf("rss: fetch %s: %w", url, se)
	}
	stop := time.AfterFunc(f.bodyTimeout, func() { cancel(ErrBodyTimeout) })
	defer stop.Stop()
	body, err := readBody(resp, maxBody)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrBodyTimeout) {
			err = fmt.Errorf("%w (%s)", ErrBodyTimeout, f.bodyTimeout)
		}
		return r, fmt.Errorf("rss: read %s: %w", url, err)
	}
	r.Body = body
	return r, nil
}

// readBody decodes the content encoding and enforces the cap on both the
// bytes on the wire and the decoded bytes, so a small gzip bomb is caught.
func readBody(resp *http.Response, maxBody int64) ([]byte, error) {
	if resp.ContentLength > maxBody {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", ErrTooLarge, resp.ContentLength, maxBody)
	}
	var src io.Reader = io.LimitReader(resp.Body, maxBody+1)
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, fmt.Errorf("rss: gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	case "deflate":
		// "deflate" should be zlib-wrapped, but some servers send a raw
		// deflate stream; the zlib header tells them apart.
		br := bufio.NewReader(src)
		if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, fmt.Errorf("rss: deflate: %w", err)
			}
			defer zr.Close()
			src = zr
		} else {
			fr := flate.NewReader(br)
			defer fr.Close()
			src = fr
		}
	default:
		return nil, fmt.Errorf("%w %q", ErrEncoding, enc)
	}
	data, err := io.ReadAll(io.LimitReader(src, maxBody+1))
	if int64(len(data)) > maxBody {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, maxBody)
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or
// unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(365*24*3600) {
			n = 365 * 24 * 3600
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
