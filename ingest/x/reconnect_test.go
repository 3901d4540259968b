package x

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// searchSince is the stored cursor of the reconnect tests: older than
// every post of both captured #brexit search pages.
const searchSince = "1440713000000000000"

// cutPage serves next, except that the first request whose next_token is
// token gets the status line, the headers (with the whole page's
// Content-Length) and the first half of the captured page, and then the
// connection is closed: a connection cut in the middle of an answer.
type cutPage struct {
	next  http.Handler
	token string
	body  []byte

	mu   sync.Mutex
	cuts int
}

func (h *cutPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	cut := h.cuts == 0 && r.URL.Query().Get("next_token") == h.token
	if cut {
		h.cuts++
	}
	h.mu.Unlock()
	if !cut {
		h.next.ServeHTTP(w, r)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err) // httptest's HTTP/1.1 server can always hijack
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n", len(h.body))
	_, _ = buf.Write(h.body[:len(h.body)/2])
	_ = buf.Flush()
}

// TestReconnectWithoutLossOrDuplicates: a poll whose connection fails —
// cut in the middle of its second page's answer, or refused while the
// server is down and then restarted on the same address — is a counted
// error with a backoff wait, publishes nothing and leaves since_id where
// it was; the next poll reads every page again and publishes each of the
// 200 posts exactly once.
func TestReconnectWithoutLossOrDuplicates(t *testing.T) {
	const token = "b26v89c19zqg8o3fpds60ssjif02fq74br3502of8hmrh" // the #brexit page's next_token
	page2, err := os.ReadFile(filepath.Join("testdata", "search_recent_kpop.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// serve starts the test's server for e.api, and returns the step
		// run after the failed poll and the words the failure must name.
		serve func(t *testing.T, e *env) (after func(), cause string)
	}{
		{"cut mid-answer", func(t *testing.T, e *env) (func(), string) {
			cut := &cutPage{next: e.api, token: token, body: page2}
			srv := httptest.NewServer(cut)
			t.Cleanup(func() {
				srv.Close()
				if cut.cuts != 1 {
					t.Errorf("%d answers cut, want 1", cut.cuts)
				}
			})
			e.srv = srv
			return nil, "read body: unexpected EOF"
		}},
		{"server down and restarted", func(t *testing.T, e *env) (func(), string) {
			addr := e.srv.Listener.Addr().String()
			e.srv.Close() // down before the first poll
			return func() {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Errorf("listen again on %s: %v", addr, err)
					return
				}
				srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: e.api}}
				srv.Start()
				t.Cleanup(srv.Close)
			}, "connection refused"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.api.set("/2/tweets/search/recent", answer{file: "search_recent_brexit.json"})
			e.api.set("/2/tweets/search/recent?next_token="+token, answer{file: "search_recent_kpop.json"})
			// The kpop page's next_token leads to an empty page: X's answer
			// when nothing is left.
			e.api.set("/2/tweets/search/recent?next_token=b26v89c19zqg8o3fpds60ssjlg8rrux0bxoa7beulbhbx", answer{body: `{"meta":{"result_count":0}}`})
			// The pages were captured on 2021-09-22; recent search reaches 7 days back.
			e.clock.t = time.Date(2021, 9, 22, 16, 40, 0, 0, time.UTC)
			after, cause := tc.serve(t, e)

			src := Source{ID: "brexit", Query: "#brexit", Interval: time.Minute, MaxPages: 5}
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			var failed State
			var c *Collector
			sl := &recorder{clock: e.clock, stopAfter: 3, cancel: cancel, steps: map[int]func(){
				1: func() {
					failed = e.state(t, c, "brexit")
					if after != nil {
						after()
					}
				},
			}}
			c = e.collector(t, func(cfg *Config) { cfg.Sleep = sl.Sleep }, src)
			if err := c.save(ctxT(t), "brexit", State{Target: target(src), SinceID: searchSince}); err != nil {
				t.Fatal(err)
			}
			if err := c.Run(ctx); err != nil {
				t.Fatal(err)
			}

			// The failed poll: counted, backed off, nothing published, cursor kept.
			if failed.SinceID != searchSince || failed.Errors != 1 || failed.Published != 0 || failed.Failing ||
				!strings.Contains(failed.LastError, cause) || !strings.Contains(failed.LastError, "tweets/search/recent") {
				t.Errorf("state after the failed poll: since_id %s errors %d published %d failing %v last_error %q",
					failed.SinceID, failed.Errors, failed.Published, failed.Failing, failed.LastError)
			}
			waits := sl.all()
			if len(waits) != 3 || waits[1] < 2*src.Interval || waits[1] > 2*src.Interval+src.Interval/5 {
				t.Errorf("waits %v; want the doubled interval (with jitter) after the failed poll", waits)
			}
			if !failed.NextPoll.Equal(failed.LastPoll.Add(waits[1])) {
				t.Errorf("stored next poll %v, last poll %v, wait %v", failed.NextPoll, failed.LastPoll, waits[1])
			}

			// The next poll: every post once.
			items := e.items(t)
			seen := map[string]int{}
			for _, it := range items {
				seen[it.NativeID]++
			}
			if len(items) != 200 || len(seen) != 200 {
				t.Errorf("%d items of %d distinct posts; want the 200 posts of both pages once each", len(items), len(seen))
			}
			st := e.state(t, c, "brexit")
			if st.SinceID != "1440717170493689866" || st.Errors != 0 || st.LastError != "" || st.Published != 200 || st.Gaps != 0 {
				t.Errorf("state after the good poll %+v", st)
			}
			if s := c.Stats()["brexit"]; s.Errors != 1 || s.Published != 200 || s.Duplicates != 0 || s.Gaps != 0 {
				t.Errorf("stats %+v", s)
			}
			// The retry asked from the same cursor and read all three pages.
			reqs := e.api.requests("/2/tweets/search/recent")
			if len(reqs) < 3 {
				t.Fatalf("requests %v", reqs)
			}
			last := reqs[len(reqs)-3:]
			if last[0].Query().Get("since_id") != searchSince || last[1].Query().Get("next_token") != token {
				t.Errorf("retry requests %v", last)
			}
		})
	}
}
