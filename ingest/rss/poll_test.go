package rss

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/newswire/newswire/ingest/egress"
)

// pollCase runs polls of one feed against a live HTTP server and checks
// what each did.
type pollCase struct {
	name    string
	path    string
	cfg     func(*Config)
	handler func(t *testing.T, hits int, w http.ResponseWriter, r *http.Request)
	// checks run after each poll, in order; the number of polls is len(checks).
	checks []func(t *testing.T, r *rig, next time.Time)
}

func TestPoll(t *testing.T) {
	rss2 := readTestdata(t, "rss2.xml")
	cases := []pollCase{
		{
			name: "200 then 304 with ETag",
			handler: func(t *testing.T, hits int, w http.ResponseWriter, r *http.Request) {
				if hits == 2 {
					if got := r.Header.Get("If-None-Match"); got != `"v1"` {
						t.Errorf("If-None-Match = %q", got)
					}
				}
				if r.Header.Get("If-None-Match") == `"v1"` {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("ETag", `"v1"`)
				w.Header().Set("Content-Type", "application/rss+xml")
				w.Write(rss2)
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.c.Stats(); st.Published != 3 || st.Fetched != 1 {
						t.Fatalf("first poll stats %+v", st)
					}
					if st := r.state(0); st.ETag != `"v1"` || st.Errors != 0 || st.LastStatus != 200 || st.Polls != 1 {
						t.Fatalf("state %+v", st)
					}
				},
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.c.Stats(); st.Published != 3 || st.NotModified != 1 {
						t.Fatalf("second poll stats %+v", st)
					}
					if st := r.state(0); st.ETag != `"v1"` || st.LastStatus != 304 || st.Polls != 2 {
						t.Fatalf("state %+v", st)
					}
				},
			},
		},
		{
			name: "Last-Modified only",
			handler: func(t *testing.T, hits int, w http.ResponseWriter, r *http.Request) {
				const lm = "Tue, 11 Jun 2024 10:09:00 GMT"
				if r.Header.Get("If-None-Match") != "" {
					t.Errorf("sent If-None-Match without an ETag")
				}
				if r.Header.Get("If-Modified-Since") == lm {
					w.WriteHeader(http.StatusNotModified)
					return
				}
				if hits > 1 {
					t.Errorf("poll %d without If-Modified-Since", hits)
				}
				w.Header().Set("Last-Modified", lm)
				w.Write(rss2)
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.state(0); st.LastModified == "" || st.ETag != "" {
						t.Fatalf("validators %q %q", st.LastModified, st.ETag)
					}
				},
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.c.Stats(); st.NotModified != 1 || st.Published != 3 {
						t.Fatalf("stats %+v", st)
					}
				},
			},
		},
		{
			name: "429 Retry-After seconds",
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, next time.Time) {
					if want := t0.Add(120 * time.Second); !next.Equal(want) {
						t.Fatalf("next %v, want %v", next, want)
					}
					st := r.state(0)
					if st.Errors != 1 || !strings.Contains(st.LastError, "429") {
						t.Fatalf("state %+v", st)
					}
				},
			},
		},
		{
			name: "503 Retry-After HTTP date",
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", t0.Add(2*time.Hour).Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, next time.Time) {
					if want := t0.Add(2 * time.Hour); !next.Equal(want) {
						t.Fatalf("next %v, want %v", next, want)
					}
				},
			},
		},
		{
			name: "5xx backs off exponentially to the cap",
			cfg:  func(c *Config) { c.BackoffMax = 5 * time.Minute },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				http.Error(w, "boom", http.StatusInternalServerError)
			},
			checks: []func(*testing.T, *rig, time.Time){
				backoffIs(2 * time.Minute), backoffIs(4 * time.Minute), backoffIs(5 * time.Minute), backoffIs(5 * time.Minute),
			},
		},
		{
			name: "301 updates the URL, 302 does not",
			path: "/old",
			handler: func(t *testing.T, hits int, w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/old":
					if hits > 1 {
						t.Errorf("old URL polled again after a 301")
					}
					http.Redirect(w, r, "/temp", http.StatusMovedPermanently)
				case "/temp":
					http.Redirect(w, r, "/new", http.StatusFound)
				case "/new":
					w.Write(rss2)
				}
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, _ time.Time) {
					st := r.state(0)
					if !strings.HasSuffix(st.URL, "/temp") || !strings.HasSuffix(st.ConfiguredURL, "/old") {
						t.Fatalf("url %q configured %q", st.URL, st.ConfiguredURL)
					}
					if r.c.Stats().Moved != 1 {
						t.Fatalf("moved not counted")
					}
				},
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.state(0); st.Errors != 0 || !strings.HasSuffix(st.URL, "/temp") {
						t.Fatalf("state %+v", st)
					}
				},
			},
		},
		{
			name: "redirect loop",
			path: "/a",
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/a" {
					http.Redirect(w, r, "/b", http.StatusFound)
				} else {
					http.Redirect(w, r, "/a", http.StatusFound)
				}
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrRedirectLoop)},
		},
		{
			name: "redirect off the web",
			path: "/a",
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "file:///etc/passwd")
				w.WriteHeader(http.StatusMovedPermanently)
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrBadRedirect)},
		},
		{
			// The first hop is allowed (the test server), the permanent
			// redirect to another loopback address is not: the fetch fails,
			// is counted, and the stored URL stays the configured one.
			name: "permanent redirect to a private address",
			path: "/feed",
			cfg:  func(c *Config) { c.Egress = egress.MustNew("127.0.0.1/32") },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "http://127.0.0.2:9/admin")
				w.WriteHeader(http.StatusMovedPermanently)
			},
			checks: []func(*testing.T, *rig, time.Time){func(t *testing.T, r *rig, next time.Time) {
				errIs(egress.ErrRefused)(t, r, next)
				if st := r.state(0); strings.Contains(st.URL, "admin") || !strings.Contains(st.LastError, "127.0.0.2:9 is a loopback address") {
					t.Fatalf("state after a refused redirect: url %q, last error %q", st.URL, st.LastError)
				}
				if st := r.c.Stats(); st.Refused != 1 || st.Moved != 0 {
					t.Fatalf("stats %+v", st)
				}
			}},
		},
		{
			name: "loopback feed without an allow-list",
			cfg:  func(c *Config) { c.Egress = egress.MustNew() },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				t.Errorf("the collector reached a loopback server it must refuse")
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(egress.ErrRefused)},
		},
		{
			name: "too many redirects",
			path: "/r0",
			cfg:  func(c *Config) { c.MaxRedirects = 3 },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				var n int
				fmt.Sscanf(r.URL.Path, "/r%d", &n)
				http.Redirect(w, r, fmt.Sprintf("/r%d", n+1), http.StatusFound)
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrTooManyRedirects)},
		},
		{
			name: "body over the cap",
			cfg:  func(c *Config) { c.MaxBody = 1024 },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Write(rss2)
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrTooLarge)},
		},
		{
			name: "gzip bomb over the cap",
			cfg:  func(c *Config) { c.MaxBody = 64 << 10 },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write(bytes.Repeat([]byte(" "), 1<<20))
				zw.Close()
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(b.Bytes())
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrTooLarge)},
		},
		{
			name: "gzip and deflate bodies",
			handler: func(t *testing.T, hits int, w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("Accept-Encoding"), "deflate") {
					t.Errorf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
				}
				var b bytes.Buffer
				if hits == 1 {
					zw := gzip.NewWriter(&b)
					zw.Write(rss2)
					zw.Close()
					w.Header().Set("Content-Encoding", "gzip")
				} else {
					zw := zlib.NewWriter(&b)
					zw.Write(readTestdata(t, "atom.xml"))
					zw.Close()
					w.Header().Set("Content-Encoding", "deflate")
				}
				w.Write(b.Bytes())
			},
			checks: []func(*testing.T, *rig, time.Time){
				publishedTotal(3), publishedTotal(5),
			},
		},
		{
			name: "server stalls mid-body",
			cfg:  func(c *Config) { c.Timeout = 200 * time.Millisecond },
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(rss2)))
				w.Write(rss2[:len(rss2)/2])
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			checks: []func(*testing.T, *rig, time.Time){errIs(ErrBodyTimeout)},
		},
		{
			name: "not a feed",
			handler: func(t *testing.T, _ int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.Write([]byte("<html><body>Moved to our new site</body></html>"))
			},
			checks: []func(*testing.T, *rig, time.Time){
				func(t *testing.T, r *rig, _ time.Time) {
					if st := r.state(0); st.Errors != 1 || !strings.Contains(st.LastError, "parse") {
						t.Fatalf("state %+v", st)
					}
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			hits := map[string]int{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hits[r.URL.Path]++
				n := hits[r.URL.Path]
				mu.Unlock()
				tc.handler(t, n, w, r)
			}))
			defer srv.Close()
			path := tc.path
			if path == "" {
				path = "/feed"
			}
			cfg := Config{Feeds: []Feed{{ID: "f", Code: "F", URL: srv.URL + path, Interval: time.Minute}}}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r := newRig(t, cfg)
			for _, check := range tc.checks {
				next := r.pollFeed(0)
				check(t, r, next)
				r.clock.Advance(time.Hour)
			}
		})
	}
}

func backoffIs(d time.Duration) func(*testing.T, *rig, time.Time) {
	return func(t *testing.T, r *rig, next time.Time) {
		t.Helper()
		if got := next.Sub(r.clock.Now()); got != d {
			t.Fatalf("backoff %v, want %v", got, d)
		}
	}
}

func errIs(want error) func(*testing.T, *rig, time.Time) {
	return func(t *testing.T, r *rig, next time.Time) {
		t.Helper()
		st := r.state(0)
		if st.Errors != 1 || !strings.Contains(st.LastError, strings.TrimPrefix(want.Error(), "rss: ")) {
			t.Fatalf("want error %v, state errors=%d last=%q", want, st.Errors, st.LastError)
		}
		if !next.After(r.clock.Now()) {
			t.Fatalf("failed feed not rescheduled: next %v", next)
		}
		if r.c.Stats().Failures != 1 {
			t.Fatalf("failure not counted: %+v", r.c.Stats())
		}
	}
}

func publishedTotal(n int64) func(*testing.T, *rig, time.Time) {
	return func(t *testing.T, r *rig, _ time.Time) {
		t.Helper()
		if st := r.c.Stats(); st.Published != n || st.Failures != 0 {
			t.Fatalf("stats %+v, want %d published", st, n)
		}
	}
}

// TestStallFreesWorker checks that a stalled feed does not hold up the
// pool: with one worker, the healthy feed is still polled.
func TestStallFreesWorker(t *testing.T) {
	rss2 := readTestdata(t, "rss2.xml")
	var healthy atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stall" {
			w.Header().Set("Content-Length", "100000")
			w.Write([]byte("<?xml version=\"1.0\"?><rss"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		healthy.Add(1)
		w.Write(rss2)
	}))
	defer srv.Close()
	cfg := Config{Workers: 1, PerHost: 1, Timeout: 100 * time.Millisecond, Feeds: []Feed{
		{ID: "stall", URL: srv.URL + "/stall"},
		{ID: "ok", URL: srv.URL + "/ok"},
	}}
	r := newRig(t, cfg)
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- r.c.Run(ctx) }()
	waitFor(t, "both feeds polled", func() bool { st := r.c.Stats(); return st.Failures == 1 && st.Published == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := r.c.Stats(); st.Failures != 1 || st.Published != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := t0
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"120", 120 * time.Second},
		{" 5 ", 5 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Minute).Format(http.TimeFormat), 90 * time.Minute},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	var se *StatusError
	err := fmt.Errorf("wrap: %w", &StatusError{Code: 503})
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &se) || errors.Is(err, ErrStatus) {
		t.Fatalf("503 must be throttling: %v", err)
	}
	if !errors.Is(&StatusError{Code: 500}, ErrStatus) {
		t.Fatal("500 must be ErrStatus")
	}
}
