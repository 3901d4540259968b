package tgweb

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func countRequests(s *site, path string) int {
	reqs, _, _ := s.log()
	n := 0
	for _, r := range reqs {
		if r == path {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds; a loaded machine only makes it slower.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestartKeepsStoredNextPoll runs the collector on a real embedded
// NATS until it has polled and stored its next poll, stops it, and starts
// a new collector on the same bucket: the new one waits for the stored
// time instead of polling at once, as the RSS collector does.
func TestRestartKeepsStoredNextPoll(t *testing.T) {
	e := newEnv(t)
	chans := []Channel{{ID: "reuters-web", Username: "reuters", Interval: time.Hour}}
	c1 := e.collector(t, chans...)
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- c1.Run(ctx) }()
	waitFor(t, "the first poll's state", func() bool { return !e.state(t, c1, "reuters-web").NextPoll.IsZero() })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := e.state(t, c1, "reuters-web")
	// The next poll is written with the poll it follows, in one record.
	if gap := st.NextPoll.Sub(st.LastPoll); gap < time.Hour || gap > time.Hour+time.Hour/10+time.Second {
		t.Fatalf("stored next poll %v is %v after the last poll, want the interval plus jitter", st.NextPoll, gap)
	}
	if st.Published < 4 || st.LastID == 0 {
		t.Fatalf("first run did not record its poll: %+v", st)
	}
	polled := countRequests(e.site, "/s/reuters")

	core, logs := observer.New(zapcore.InfoLevel)
	c2, err := New(Config{Channels: []Channel{{ID: "reuters-web", Username: "reuters", Interval: time.Hour, BaseURL: e.srv.URL}},
		HostInterval: 100 * time.Millisecond}, e.pub, e.kv, e.srv.Client(), zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(ctxT(t))
	go func() { done <- c2.Run(ctx2) }()
	// either it decides to wait, or it polls early
	waitFor(t, "the restarted collector to wait or poll", func() bool {
		return logs.FilterMessage("waiting for the stored next poll").Len() > 0 || countRequests(e.site, "/s/reuters") > polled
	})
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := countRequests(e.site, "/s/reuters"); got != polled {
		t.Fatalf("restarted collector fetched the page %d times before its stored next poll", got-polled)
	}
	wait := logs.FilterMessage("waiting for the stored next poll").All()[0].ContextMap()["wait"].(time.Duration)
	if wait < 50*time.Minute {
		t.Errorf("restart waits %v, want about the hour the first run stored", wait)
	}
	if after := e.state(t, c2, "reuters-web"); !after.NextPoll.Equal(st.NextPoll) || after.Published != st.Published {
		t.Errorf("state changed without a poll: %+v, was %+v", after, st)
	}
}

// TestCancelledPollKeepsNextPollDue: a poll cut short by shutdown saves
// what it did but not a new next poll, so the stored one (due) makes the
// next start poll at once; a finished poll stores its next poll with it.
func TestCancelledPollKeepsNextPollDue(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t, Channel{ID: "reuters-web", Username: "reuters", Interval: time.Hour})
	ch := c.cfg.Channels[0]
	failures := 0
	if _, err := c.pollOnce(ctxT(t), ch, &failures); err != nil {
		t.Fatal(err)
	}
	st := e.state(t, c, "reuters-web")
	if st.NextPoll.Sub(st.LastPoll) < time.Hour {
		t.Fatalf("finished poll stored next poll %v after last poll %v", st.NextPoll, st.LastPoll)
	}
	due := st.LastPoll.Add(-time.Minute)
	st.NextPoll = due
	if err := c.save(ctxT(t), "reuters-web", st); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	if _, err := c.pollOnce(ctx, ch, &failures); err == nil {
		t.Fatal("a cancelled poll reported success")
	}
	after := e.state(t, c, "reuters-web")
	if !after.NextPoll.Equal(due) || after.Errors != st.Errors {
		t.Errorf("cancelled poll stored next poll %v (want %v) and %d errors (want %d)", after.NextPoll, due, after.Errors, st.Errors)
	}
	if w := c.storedWait(ctxT(t), ch); w != 0 {
		t.Errorf("a due next poll waits %v", w)
	}
}
