package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestRunFollowsBluesky runs `newswire run` with a bluesky source read
// from local servers speaking Jetstream (WebSocket, captured production
// events) and the AppView, and checks that its posts reach the bus and
// its health shows in `newswire sources --json` and on /metrics.
func TestRunFollowsBluesky(t *testing.T) {
	lines, err := os.ReadFile("../../ingest/bluesky/testdata/jetstream_v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	stop, cancelStop := context.WithCancel(context.Background())
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dids := r.URL.Query()["wantedDids"]
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for _, l := range bytes.Split(lines, []byte("\n")) {
			for _, d := range dids {
				if bytes.Contains(l, []byte(`"did":"`+d+`"`)) && bytes.Contains(l, []byte(`"collection":"app.bsky.feed.post"`)) {
					if c.Write(stop, websocket.MessageText, l) != nil {
						return
					}
				}
			}
		}
		_, _, _ = c.Read(stop)
	}))
	appview := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"feed":[]}`)) // an account with nothing older to read
	}))
	t.Cleanup(appview.Close)
	t.Cleanup(js.Close)
	t.Cleanup(cancelStop)

	dir := t.TempDir()
	natsPort, httpPort := freePort(t), freePort(t)
	cfgFile := writeFile(t, "bsky.yaml", fmt.Sprintf(`data_dir: %s
log: {level: warn}
nats:
  embedded: {port: %d}
  urls: ["nats://127.0.0.1:%d"]
http:
  listen: 127.0.0.1:%d
sources:
  - {id: thread, kind: bluesky, code: THREAD, handle: thread.example, did: "did:plc:u4lmvw4wwzaql3z5kcf3r7h4",
     jetstream_url: "ws%s/subscribe", appview_url: "%s", compression: none}
`, dir, natsPort, natsPort, httpPort, strings.TrimPrefix(js.URL, "http"), appview.URL))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, []string{"run", "--config", cfgFile}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	metrics := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var scraped string
	deadline := time.Now().Add(60 * time.Second)
	for {
		scraped = metrics()
		if strings.Contains(scraped, `newswire_source_published{kind="bluesky",source="thread"} 3`) &&
			strings.Contains(scraped, `newswire_bluesky_published_total{collector="bluesky"} 3`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bluesky source's three posts never showed on /metrics:\n%s", grepLines(scraped, "bluesky"))
		}
		select {
		case err := <-done:
			t.Fatalf("run stopped early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}

	out := captureStdout(t, func() error {
		return dispatch(context.Background(), []string{"sources", "--json", "--config", cfgFile})
	})
	var listed []struct {
		ID     string `json:"id"`
		Kind   string `json:"kind"`
		Health *struct {
			Polled    bool   `json:"polled"`
			Published int64  `json:"published"`
			Errors    int64  `json:"errors"`
			LastPoll  string `json:"last_poll"`
		} `json:"health"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("sources --json: %v\n%s", err, out)
	}
	if len(listed) != 1 || listed[0].Kind != "bluesky" || listed[0].Health == nil || !listed[0].Health.Polled ||
		listed[0].Health.Published != 3 || listed[0].Health.Errors != 0 || listed[0].Health.LastPoll == "" {
		t.Errorf("sources --json: %s", out)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// captureStdout runs f with os.Stdout going to a pipe and returns what it wrote.
func captureStdout(t *testing.T, f func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- string(b)
	}()
	ferr := f()
	os.Stdout = old
	w.Close()
	out := <-got
	r.Close()
	if ferr != nil {
		t.Fatalf("%v\n%s", ferr, out)
	}
	return out
}
