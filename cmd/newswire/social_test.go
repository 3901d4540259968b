package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/wire"
)

// fixtureServer answers each path with a file of a collector's testdata.
func fixtureServer(t *testing.T, dir string, routes map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// collectFor runs `newswire collect` with the config until cond holds on
// the raw items and /metrics shows every wanted line, then stops it; it
// returns the raw items and the last /metrics body.
func collectFor(t *testing.T, srv *bustest.Server, cfgBody string, metricsPort int, cond func([]wire.RawItem) bool, want ...string) ([]wire.RawItem, string) {
	t.Helper()
	cfgFile := writeFile(t, "collect.yaml", cfgBody)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- dispatch(ctx, []string{"collect", "--config", cfgFile}) })
	defer func() {
		cancel()
		wg.Wait()
		if err := <-errc; err != nil {
			t.Errorf("collect: %v", err)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	var items []wire.RawItem
	for {
		items = rawItems(t, srv)
		if cond(items) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("raw items after the deadline: %d", len(items))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var metrics string
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(b)
			all := true
			for _, w := range want {
				all = all && strings.Contains(metrics, w)
			}
			if all {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return items, metrics
}

func rawItems(t *testing.T, srv *bustest.Server) []wire.RawItem {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := srv.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire.RawItem
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var it wire.RawItem
		if json.Unmarshal(m.Data, &it) == nil {
			out = append(out, it)
		}
	}
	return out
}

// TestXSourceUnderCollect runs an x source from a config file through the
// collect command against a fake API serving captured pages: raw items
// carry canonical post URLs, and the source's health is in wire_source
// (what `newswire sources` lists) and on /metrics.
func TestXSourceUnderCollect(t *testing.T) {
	srv := bustest.Start(t)
	api := fixtureServer(t, "../../ingest/x/testdata", map[string]string{
		"/2/users/by/username/Twitter": "user_by_username_twitter.json",
		"/2/users/783214/tweets":       "users_tweets_twitter.json",
	})
	t.Setenv("NEWSWIRE_TEST_X_TOKEN", "test-token")
	metricsPort := freePort(t)
	cfg := fmt.Sprintf(`log: {level: warn}
nats: {urls: [%s]}
metrics: {listen: "127.0.0.1:%d"}
x: {bearer_token: env:NEWSWIRE_TEST_X_TOKEN, base_url: %q}
sources:
  - {id: twitter, kind: x, code: TWTR, user: "@Twitter", interval: 1h}
`, srv.Embedded.ClientURL(), metricsPort, api.URL)
	wantMetrics := []string{`newswire_source_published{kind="x",source="twitter"} 2`, `newswire_x_published_total{collector="x",source="twitter"} 2`}
	items, metrics := collectFor(t, srv, cfg, metricsPort, func(it []wire.RawItem) bool { return len(it) >= 2 }, wantMetrics...)
	if items[0].Kind != "x" || items[1].URL != "https://x.com/Twitter/status/1577730467436138524" {
		t.Errorf("raw items %+v", items)
	}
	parsed, err := config.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHealth(context.Background(), kv, parsed.Sources[0])
	if err != nil || !h.Polled || h.Published != 2 || h.Failing {
		t.Errorf("health %+v %v", h, err)
	}
	for _, want := range wantMetrics {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestMastodonSourceUnderCollect runs a mastodon account source from a
// config file under the collect command against a fake instance serving
// captured answers: canonical post URLs, health in wire_source and on
// /metrics.
func TestMastodonSourceUnderCollect(t *testing.T) {
	srv := bustest.Start(t)
	inst := fixtureServer(t, "../../ingest/mastodon/testdata", map[string]string{
		"/api/v1/accounts/lookup":                      "accounts_lookup_mastodonpy_test.json",
		"/api/v1/accounts/117020565966271181/statuses": "accounts_statuses_page1.json",
	})
	metricsPort := freePort(t)
	cfg := fmt.Sprintf(`log: {level: warn}
nats: {urls: [%s]}
metrics: {listen: "127.0.0.1:%d"}
sources:
  - {id: mpytest, kind: mastodon, code: MPY, instance: %q, account: mastodonpy_test, interval: 1h, recheck: -1}
`, srv.Embedded.ClientURL(), metricsPort, inst.URL)
	wantMetrics := []string{`newswire_source_published{kind="mastodon",source="mpytest"} 5`, `newswire_mastodon_published_total{collector="mastodon",source="mpytest"} 5`}
	items, metrics := collectFor(t, srv, cfg, metricsPort, func(it []wire.RawItem) bool { return len(it) >= 5 }, wantMetrics...)
	if items[4].Kind != "mastodon" || items[4].URL != "http://localhost:3000/@mastodonpy_test/117020580518794573" {
		t.Errorf("raw items %+v", items[4])
	}
	parsed, err := config.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHealth(context.Background(), kv, parsed.Sources[0])
	if err != nil || !h.Polled || h.Published != 5 || h.Failing {
		t.Errorf("health %+v %v", h, err)
	}
	for _, want := range wantMetrics {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestXRejectedTokenShowsInSources: a 401 under newswire collect leaves
// the source failing in wire_source, with X's answer, as `newswire
// sources` lists it, while the collect command keeps running.
func TestXRejectedTokenShowsInSources(t *testing.T) {
	srv := bustest.Start(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := os.ReadFile("../../ingest/x/testdata/error_401_unauthorized.json")
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(body)
	}))
	t.Cleanup(api.Close)
	t.Setenv("NEWSWIRE_TEST_X_TOKEN", "revoked")
	cfg := fmt.Sprintf(`log: {level: error}
nats: {urls: [%s]}
x: {bearer_token: env:NEWSWIRE_TEST_X_TOKEN, base_url: %q}
sources:
  - {id: twitter, kind: x, user: "@Twitter", user_id: "783214", interval: 1h}
`, srv.Embedded.ClientURL(), api.URL)
	cfgFile := writeFile(t, "collect.yaml", cfg)
	parsed, err := config.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := srv.JS.KeyValue(context.Background(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- dispatch(ctx, []string{"collect", "--config", cfgFile}) }()
	deadline := time.Now().Add(60 * time.Second)
	var h sourceHealth
	for !h.Failing {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("source never marked failing: %+v", h)
		}
		time.Sleep(50 * time.Millisecond)
		h, _ = readHealth(context.Background(), kv, parsed.Sources[0])
	}
	select {
	case err := <-errc:
		t.Fatalf("collect stopped on a rejected token: %v", err)
	default:
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printHealth(&b, parsed.Sources, map[string]sourceHealth{"twitter": h}, time.Now())
	if out := b.String(); !strings.Contains(out, "FAILING x1") || !strings.Contains(out, "x: credential rejected") || !strings.Contains(out, "HTTP 401 (Unauthorized)") {
		t.Errorf("listing:\n%s", out)
	}
}
