package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/rss"
	"github.com/newswire/newswire/ingest/telegram"
	"github.com/newswire/newswire/ingest/tgweb"
	"github.com/newswire/newswire/metrics"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/synth"
)

// TestAlertRules runs promtool on the shipped rules and their unit tests.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		skipOrFail(t, "promtool is not installed (apt-get install prometheus; .ci/run installs it)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// exported gathers the name of every metric newswire's collectors emit,
// built the way cmd/newswire registers them, over a real server with one
// source's state and one consumer.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	srv := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := srv.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	h := ingest.Health{LastPoll: time.Now(), LastSuccess: time.Now(), NextPoll: time.Now()}
	for i := range 4 {
		h.Observe(time.Now().Add(time.Duration(i-4)*time.Minute), 1)
	}
	b, _ := json.Marshal(h)
	if _, err := kv.Put(ctx, ingest.HealthKey("rss", "desk"), b); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.CreateOrUpdateConsumer(ctx, bus.StreamRaw, jetstream.ConsumerConfig{Durable: normalize.ConsumerName}); err != nil {
		t.Fatal(err)
	}
	sources := metrics.NewSources()
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sources.Watch(wctx, kv, nil) }()
	defer func() { stop(); <-done }()

	reg := metrics.NewRegistry()
	reg.MustRegister(sources,
		metrics.NewJetStream(srv.JS, []string{bus.StreamRaw, bus.StreamDLQ}, []metrics.ConsumerRef{{Stream: bus.StreamRaw, Name: normalize.ConsumerName}}, 1<<30, nil),
		metrics.NewStats("normalize", nil, func() any { return &normalize.Stats{} }),
		metrics.NewStats("synth", nil, func() any { return &synth.Stats{} }),
		metrics.NewStats("rss", nil, func() any { return rss.Stats{} }),
		metrics.NewStats("tgweb", nil, func() any { return map[string]tgweb.ChannelStats{"desk": {}} }),
		metrics.NewStats("telegram", nil, func() any { return map[string]telegram.ChannelStats{"desk": {}} }),
	)
	names := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for !names["newswire_source_quiet"] {
		if time.Now().After(deadline) {
			t.Fatal("the source gauges never appeared")
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			names[mf.GetName()] = true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return names
}

var metricName = regexp.MustCompile(`\bnewswire_[a-z0-9_]+`)

// TestAlertsAndDashboardUseRealMetrics checks that every newswire_ metric
// the alerts and the Grafana dashboard name is one newswire exports.
func TestAlertsAndDashboardUseRealMetrics(t *testing.T) {
	names := exported(t)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	b, err := os.ReadFile("grafana/newswire.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/newswire.json: %v", err)
	}
	exprs := 0
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			ms := metricName.FindAllString(tg.Expr, -1)
			if len(ms) == 0 {
				t.Errorf("panel %q: %q names no newswire metric", p.Title, tg.Expr)
			}
			for _, m := range ms {
				used[m] = true
				if !names[m] {
					t.Errorf("panel %q uses %s, which newswire does not export", p.Title, m)
				}
			}
		}
	}
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricName.FindAllString(string(rules), -1) {
		if !names[m] {
			t.Errorf("alerts.yml uses %s, which newswire does not export", m)
		}
	}
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries", exprs)
	}
	var list []string
	for m := range used {
		list = append(list, m)
	}
	sort.Strings(list)
	t.Logf("dashboard metrics: %v", list)
}
