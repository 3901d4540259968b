package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// tailRun is a `newswire tail` running in the background with its stdout
// on a pipe, which is not a terminal.
type tailRun struct {
	cancel context.CancelFunc
	errc   chan error
	read   chan struct{} // closed when the pipe is drained
	old    *os.File
	w      *os.File

	mu    sync.Mutex
	lines []string
}

// startTail runs dispatch(args) until stop; the test must not print to
// stdout meanwhile.
func startTail(t *testing.T, args ...string) *tailRun {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &tailRun{cancel: cancel, errc: make(chan error, 1), read: make(chan struct{}), old: os.Stdout, w: w}
	os.Stdout = w
	go func() {
		defer close(tr.read)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			tr.mu.Lock()
			tr.lines = append(tr.lines, sc.Text())
			tr.mu.Unlock()
		}
		r.Close()
	}()
	go func() { tr.errc <- dispatch(ctx, append([]string{"tail"}, args...)) }()
	t.Cleanup(func() { tr.stop(t) })
	return tr
}

// tailWait bounds every wait on tail's output, so a command that prints
// too little fails the test instead of hanging it.
const tailWait = 60 * time.Second

// waitLines waits until tail has printed n lines and returns them.
func (tr *tailRun) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(tailWait)
	for {
		tr.mu.Lock()
		got := append([]string(nil), tr.lines...)
		tr.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case err := <-tr.errc:
			tr.errc <- err
			t.Fatalf("tail ended (%v) after %d of %d lines:\n%s", err, len(got), n, strings.Join(got, "\n"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %d of %d lines within %s:\n%s", len(got), n, tailWait, strings.Join(got, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop ends the command and returns every line it printed.
func (tr *tailRun) stop(t *testing.T) []string {
	t.Helper()
	if tr.cancel == nil {
		return tr.lines
	}
	tr.cancel()
	tr.cancel = nil
	select {
	case err := <-tr.errc:
		if err != nil {
			t.Errorf("tail: %v", err)
		}
	case <-time.After(tailWait):
		t.Fatalf("tail did not return within %s of its context ending", tailWait)
	}
	os.Stdout = tr.old
	tr.w.Close()
	<-tr.read
	return tr.lines
}

func publishEntries(t *testing.T, srv *bustest.Server, es ...wire.Entry) {
	t.Helper()
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.JS.Publish(context.Background(), bus.EntrySubject(e.Source.Kind, e.Source.ID), b); err != nil {
			t.Fatal(err)
		}
	}
}

func tickers(es []wire.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.PublishedAt.UTC().Format("15:04Z") + " " + e.Source.Code + " " + e.Headline
	}
	return out
}

func only(es []wire.Entry, keep func(wire.Entry) bool) []wire.Entry {
	var out []wire.Entry
	for _, e := range es {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

var tickerLine = regexp.MustCompile(`^\d\d:\d\dZ [^ ]+ \S.*$`)

// checkLines compares tail's plain output with the entries it should
// have printed, in order.
func checkLines(t *testing.T, what string, got []string, want []wire.Entry) {
	t.Helper()
	exp := tickers(want)
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("%s printed\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
	for _, l := range got {
		if strings.Contains(l, "\x1b") {
			t.Errorf("%s wrote a colour code to a pipe: %q", what, l)
		}
		if !tickerLine.MatchString(l) {
			t.Errorf("%s: %q is not \"15:04Z CODE headline\"", what, l)
		}
	}
}

// TestTailPrintsFiltersAndFollowsRealEntries runs `newswire tail` against
// an embedded NATS holding normalized UCI and Telegram rows: the last N
// entries and then new ones as they arrive, one "15:04Z CODE headline"
// line each (no colour on a pipe), or one JSON object per line, filtered
// by kind and source on the server.
func TestTailPrintsFiltersAndFollowsRealEntries(t *testing.T) {
	srv := bustest.Start(t)
	cfg := writeFile(t, "cli.yaml", fmt.Sprintf("log: {level: error}\nnats:\n  urls: [%s]\n", srv.Embedded.ClientURL()))
	uci := realEntries(t, "uci-news-2014-03.jsonl", 100)
	tg := realEntries(t, "telegram-ru-news-sample.jsonl.gz", 50)
	// 60 UCI rows and 30 posts, mixed, are on the bus before the first
	// tail starts; each run publishes some of the rest while it follows.
	var published, pool []wire.Entry
	for i := range uci {
		if i < 60 {
			published = append(published, uci[i])
		} else {
			pool = append(pool, uci[i])
		}
		if i%2 == 1 && i/2 < len(tg) {
			if i < 60 {
				published = append(published, tg[i/2])
			} else {
				pool = append(pool, tg[i/2])
			}
		}
	}
	publishEntries(t, srv, published...)
	byKind := func(k string) func(wire.Entry) bool { return func(e wire.Entry) bool { return e.Source.Kind == k } }
	if n := len(only(published, byKind("telegram"))); n != 30 {
		t.Fatalf("%d of the posts normalized to telegram entries, want 30", n)
	}
	// The UCI publisher with the most entries on the bus that has one more
	// in the pool, to filter on.
	count := map[string]int{}
	for _, e := range published {
		count[e.Source.ID]++
	}
	src := ""
	for _, e := range pool {
		if e.Source.Kind == "rss" && count[e.Source.ID] >= 2 && (src == "" || count[e.Source.ID] > count[src]) {
			src = e.Source.ID
		}
	}
	if src == "" {
		t.Fatal("no UCI publisher has entries both on the bus and in the pool; the test needs one")
	}
	bySource := func(e wire.Entry) bool { return e.Source.ID == src }

	// batch takes n entries of the pool and then the first one that keep
	// accepts (taken out of the pool first): once a tail has printed that last one, it has seen (and
	// dropped) everything published before it.
	batch := func(n int, keep func(wire.Entry) bool) []wire.Entry {
		t.Helper()
		for i := range pool {
			if keep(pool[i]) && len(pool) > n {
				kept := pool[i]
				pool = append(pool[:i:i], pool[i+1:]...)
				b := append(append([]wire.Entry(nil), pool[:n]...), kept)
				pool = pool[n:]
				return b
			}
		}
		t.Fatalf("the pool has no more entries to publish")
		return nil
	}
	// run starts tail, checks the last entries it prints, publishes a
	// batch while it follows, and returns every line it printed and the
	// entries it should have printed them for.
	run := func(args []string, last int, keep func(wire.Entry) bool, more int) ([]string, []wire.Entry) {
		t.Helper()
		want := only(published, keep)
		want = want[len(want)-last:]
		tr := startTail(t, append([]string{"--config", cfg, "--last", fmt.Sprint(last)}, args...)...)
		tr.waitLines(t, len(want))
		b := batch(more, keep)
		publishEntries(t, srv, b...)
		published = append(published, b...)
		want = append(want, only(b, keep)...)
		tr.waitLines(t, len(want))
		return tr.stop(t), want
	}
	all := func(wire.Entry) bool { return true }

	got, want := run(nil, 5, all, 6)
	checkLines(t, "tail --last 5", got, want)
	got, want = run([]string{"--kind", "telegram"}, 4, byKind("telegram"), 8)
	checkLines(t, "tail --kind telegram --last 4", got, want)
	got, want = run([]string{"--source", strings.ToUpper(src)}, 2, bySource, 7)
	checkLines(t, "tail --source "+strings.ToUpper(src)+" --last 2", got, want)
	got, want = run([]string{"--kind", "rss", "--source", src}, 1, bySource, 3)
	checkLines(t, "tail --kind rss --source "+src+" --last 1", got, want)
	got, want = run([]string{"--json", "--kind", "rss"}, 3, byKind("rss"), 4)
	if len(got) != len(want) {
		t.Fatalf("tail --json --kind rss printed %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, l := range got {
		var e wire.Entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Errorf("tail --json line %d is not one JSON object: %v\n%s", i, err, l)
			continue
		}
		exp, _ := json.Marshal(want[i])
		again, _ := json.Marshal(e)
		if string(again) != string(exp) || e.ID != want[i].ID || e.Headline == "" || e.URL == "" || e.Source.Kind != "rss" {
			t.Errorf("tail --json line %d is\n%s\nwant the entry\n%s", i, l, exp)
		}
		if strings.Contains(l, "\x1b") {
			t.Errorf("tail --json wrote a colour code: %q", l)
		}
	}
}
