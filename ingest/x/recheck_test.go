package x

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/wire"
)

const (
	deletedID = "1565318587736285184" // not found in tweets_lookup_deleted.json
	keptID    = "1577730467436138524" // in its data
)

// recheckSource reads @Twitter's captured timeline (the two posts above)
// and re-checks them every hour.
func recheckSource() Source {
	return Source{ID: "twitter", Code: "TWTR", Username: "Twitter", UserID: "783214", Recheck: 10, RecheckInterval: time.Hour}
}

func withdrawals(items []wire.RawItem) []wire.RawItem {
	var out []wire.RawItem
	for _, it := range items {
		if it.Deleted {
			out = append(out, it)
		}
	}
	return out
}

// TestRecheckWithdrawsDeletedPostOnce: a post the lookup reports not
// found becomes exactly one withdrawal, the post that exists stays, and a
// restarted collector neither asks for the withdrawn post again nor
// withdraws it again when X names it once more.
func TestRecheckWithdrawsDeletedPostOnce(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets", answer{file: "tweets_lookup_deleted.json"})
	c := e.collector(t, nil, recheckSource())
	src := c.cfg.Sources[0]
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(59 * time.Minute)
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	if n := len(e.api.requests("/2/tweets")); n != 0 {
		t.Fatalf("%d lookups before recheck_interval passed since the posts were read", n)
	}
	e.clock.advance(2 * time.Minute)
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	lookups := e.api.requests("/2/tweets")
	if len(lookups) != 1 || lookups[0].Query().Get("ids") != deletedID+","+keptID {
		t.Fatalf("lookups %v", lookups)
	}
	items := e.items(t)
	w := withdrawals(items)
	if len(items) != 3 || len(w) != 1 {
		t.Fatalf("%d items, withdrawals %+v", len(items), w)
	}
	if it := w[0]; it.NativeID != deletedID || it.Source != "twitter" || it.Kind != Kind || it.SourceCode != "TWTR" ||
		it.URL != "https://x.com/Twitter/status/"+deletedID || it.Body != "" {
		t.Errorf("withdrawal %+v", it)
	}
	st := e.state(t, c, "twitter")
	if st.Withdrawn != 1 || len(st.WithdrawnIDs) != 1 || st.WithdrawnIDs[0] != deletedID ||
		len(st.Recent) != 1 || st.Recent[0].ID != keptID || !st.LastRecheck.Equal(e.clock.Now()) {
		t.Errorf("state %+v", st)
	}
	if s := c.Stats()["twitter"]; s.Rechecks != 1 || s.Withdrawn != 1 || s.Errors != 0 {
		t.Errorf("stats %+v", s)
	}

	// A restart on the same bucket; the same answer still names the
	// deleted post.
	c2 := e.collector(t, nil, recheckSource())
	e.clock.advance(2 * time.Hour)
	if err := c2.Poll(ctxT(t), c2.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	lookups = e.api.requests("/2/tweets")
	if len(lookups) != 2 || lookups[1].Query().Get("ids") != keptID {
		t.Fatalf("lookups after the restart %v", lookups)
	}
	if w := withdrawals(e.items(t)); len(w) != 1 {
		t.Errorf("%d withdrawals after the restart", len(w))
	}
	if st := e.state(t, c2, "twitter"); st.Withdrawn != 1 || len(st.Recent) != 1 {
		t.Errorf("state after the restart %+v", st)
	}
	if s := c2.Stats()["twitter"]; s.Withdrawn != 0 || s.PartialErrors != 1 {
		t.Errorf("stats after the restart %+v", s)
	}
}

// TestRecheckKeepsExistingPosts: the captured lookup of two posts that
// exist withdraws nothing and leaves them to be re-checked.
func TestRecheckKeepsExistingPosts(t *testing.T) {
	e := newEnv(t)
	// State as an earlier run leaves it: two posts of @TwitterDev
	// published and last re-checked two hours ago.
	seeded := State{Target: "user:twitterdev", UserID: "2244994945", Username: "TwitterDev", SinceID: keptID,
		Recent:      []recent{{ID: "1293593516040269825", User: "TwitterDev"}, {ID: "1293595870563381249", User: "TwitterDev"}},
		LastRecheck: e.clock.Now().Add(-2 * time.Hour)}
	data, err := json.Marshal(seeded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.kv.Put(ctxT(t), StateKey("dev"), data); err != nil {
		t.Fatal(err)
	}
	// The captured timeline holds only posts older than since_id: nothing new.
	e.api.set("/2/users/2244994945/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets", answer{file: "tweets_lookup_twitterdev.json"})
	c := e.collector(t, nil, Source{ID: "dev", Username: "TwitterDev", Recheck: 20, RecheckInterval: time.Hour})
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	lookups := e.api.requests("/2/tweets")
	if len(lookups) != 1 || lookups[0].Query().Get("ids") != "1293593516040269825,1293595870563381249" {
		t.Fatalf("lookups %v", lookups)
	}
	if n := len(e.items(t)); n != 0 {
		t.Errorf("%d items published", n)
	}
	st := e.state(t, c, "dev")
	if st.Withdrawn != 0 || len(st.Recent) != 2 || !st.LastRecheck.Equal(e.clock.Now()) {
		t.Errorf("state %+v", st)
	}
	// recheck lowered to 1: only the newest post is asked for.
	c = e.collector(t, nil, Source{ID: "dev", Username: "TwitterDev", Recheck: 1, RecheckInterval: time.Hour})
	e.clock.advance(2 * time.Hour)
	if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
		t.Fatal(err)
	}
	if lookups = e.api.requests("/2/tweets"); len(lookups) != 2 || lookups[1].Query().Get("ids") != "1293595870563381249" {
		t.Errorf("lookups after recheck was lowered %v", lookups)
	}
}

// TestRecheckRateLimitWaits: a 429 on the lookup makes the source wait
// for the lookup window's reset; the re-check is then done and withdraws.
func TestRecheckRateLimitWaits(t *testing.T) {
	e := newEnv(t)
	t0 := e.clock.Now()
	reset := t0.Add(900 * time.Second)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets",
		answer{status: 429, body: body429, headers: map[string]string{"x-rate-limit-remaining": "0",
			"x-rate-limit-reset": strconv.FormatInt(reset.Unix(), 10)}},
		answer{file: "tweets_lookup_deleted.json"})
	ctx, cancel := context.WithCancel(ctxT(t))
	rec := &recorder{clock: e.clock, stopAfter: 4, cancel: cancel}
	src := recheckSource()
	src.Interval, src.RecheckInterval = time.Minute, time.Minute
	c := e.collector(t, func(cfg *Config) { cfg.Sleep = rec.Sleep }, src)
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	waits := rec.all()
	if len(waits) != 4 || waits[0] != 0 || waits[1] < time.Minute {
		t.Fatalf("waits %v", waits)
	}
	if want := reset.Sub(t0.Add(waits[1])) + time.Second; waits[2] != want {
		t.Errorf("wait after the 429 %v, want %v (until the reset)", waits[2], want)
	}
	if n := len(e.api.requests("/2/tweets")); n != 2 {
		t.Errorf("%d lookups", n)
	}
	if w := withdrawals(e.items(t)); len(w) != 1 || w[0].NativeID != deletedID {
		t.Errorf("withdrawals %+v", w)
	}
	s := c.Stats()["twitter"]
	st := e.state(t, c, "twitter")
	if s.RateLimited != 1 || s.RateLimitWaits != 1 || s.Withdrawn != 1 || st.RateLimited != 1 || st.LastError != "" || st.Withdrawn != 1 {
		t.Errorf("stats %+v state %+v", s, st)
	}
}

// TestRecheckMalformedAnswer: a lookup answer of the wrong shape, or with
// neither data nor errors, is a counted error that withdraws nothing and
// leaves the re-check due; the next good answer is used.
func TestRecheckMalformedAnswer(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets", answer{body: `{"data":{"id":"` + keptID + `"}}`}, answer{body: `{"meta":{}}`},
		answer{file: "tweets_lookup_deleted.json"})
	c := e.collector(t, nil, recheckSource())
	src := c.cfg.Sources[0]
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	started := e.clock.Now()
	for i := range 2 {
		e.clock.advance(2 * time.Hour)
		err := c.Poll(ctxT(t), src)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "tweets") {
			t.Fatalf("poll %d: %v", i, err)
		}
	}
	if w := withdrawals(e.items(t)); len(w) != 0 {
		t.Fatalf("withdrawals after malformed answers %+v", w)
	}
	st := e.state(t, c, "twitter")
	if st.Errors != 2 || !strings.Contains(st.LastError, "malformed response") || !st.LastRecheck.Equal(started) || len(st.Recent) != 2 {
		t.Errorf("state %+v", st)
	}
	if s := c.Stats()["twitter"]; s.Malformed != 2 || s.Errors != 2 || s.Withdrawn != 0 {
		t.Errorf("stats %+v", s)
	}
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	if w := withdrawals(e.items(t)); len(w) != 1 {
		t.Errorf("%d withdrawals after the good answer", len(w))
	}
}

// TestRecheckRejectedToken: a 401 on the lookup is a credential failure
// like any other: the source is marked failing.
func TestRecheckRejectedToken(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets", answer{status: 401, file: "error_401_unauthorized.json"})
	c := e.collector(t, nil, recheckSource())
	src := c.cfg.Sources[0]
	if err := c.Poll(ctxT(t), src); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(2 * time.Hour)
	if err := c.Poll(ctxT(t), src); !errors.Is(err, ErrCredential) {
		t.Fatalf("got %v", err)
	}
	if st := e.state(t, c, "twitter"); !st.Failing || !strings.Contains(st.LastError, "HTTP 401") || st.Withdrawn != 0 {
		t.Errorf("state %+v", st)
	}
}

// TestRecheckOffByDefault: without recheck no post is remembered and
// nothing is looked up, however long the source runs.
func TestRecheckOffByDefault(t *testing.T) {
	e := newEnv(t)
	e.api.set("/2/users/783214/tweets", answer{file: "users_tweets_twitter.json"})
	e.api.set("/2/tweets", answer{file: "tweets_lookup_deleted.json"})
	c := e.collector(t, nil, Source{ID: "twitter", Username: "Twitter", UserID: "783214"})
	for range 3 {
		if err := c.Poll(ctxT(t), c.cfg.Sources[0]); err != nil {
			t.Fatal(err)
		}
		e.clock.advance(24 * time.Hour)
	}
	if n := len(e.api.requests("/2/tweets")); n != 0 {
		t.Errorf("%d lookups with recheck off", n)
	}
	if st := e.state(t, c, "twitter"); len(st.Recent) != 0 {
		t.Errorf("state %+v", st)
	}
}
