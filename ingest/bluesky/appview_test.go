package bluesky

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/schema"
	"github.com/newswire/newswire/wire"
)

const (
	shinyaDID  = "did:plc:iijrtk7ocored6zuziwmqq3c"
	listCursor = "1694605555713::bafyreieeeua2domj3wkqupearywptsbldd3douaqkyav37i3q2yqvweb64"
)

var acctShinya = Account{ID: "shinyakato", Handle: "shinyakato.dev", DID: shinyaDID}

func feedRequests(reqs []string) []url.Values {
	var out []url.Values
	for _, r := range reqs {
		if strings.HasPrefix(r, "/xrpc/app.bsky.feed.getAuthorFeed?") {
			u, _ := url.Parse(r)
			out = append(out, u.Query())
		}
	}
	return out
}

// TestAppViewPagination: a start after downtime reads the account's feed
// back to its stored cursor (less the rewind), following the AppView's
// page cursor, and publishes oldest first. Two captured pages of one
// author: September 2023 (getListFeed, the same answer schema), then
// April 2023 (getAuthorFeed); the stored cursor lies inside the second.
func TestAppViewPagination(t *testing.T) {
	for _, reposts := range []bool{false, true} {
		t.Run(fmt.Sprintf("reposts=%v", reposts), func(t *testing.T) {
			e := newEnv(t)
			e.av.pages[shinyaDID+" "] = "getListFeed.json"
			e.av.pages[shinyaDID+" "+listCursor] = "getAuthorFeed.json"
			cursor := time.Date(2023, 4, 30, 0, 5, 0, 0, time.UTC)
			e.putState("shinyakato", State{Handle: "shinyakato.dev", DID: shinyaDID, Cursor: cursor.UnixMicro()})
			a := acctShinya
			a.Reposts = reposts
			c := e.collector(e.config(a))
			stop := e.run(c)
			waitFor(t, "the AppView read and the connection", func() bool { return c.Stats().Connects >= 1 })
			stop()

			reqs := feedRequests(e.av.Requests())
			if len(reqs) != 2 || reqs[0].Get("cursor") != "" || reqs[1].Get("cursor") != listCursor || reqs[0].Get("actor") != shinyaDID {
				t.Fatalf("feed requests %v", reqs)
			}
			items := e.pub.Items()
			want := 13 + 11 // the September page, and April's posts from 00:06:14 on
			if reposts {
				want++ // the April page opens with a repost
			}
			if len(items) != want {
				t.Fatalf("%d items published, want %d", len(items), want)
			}
			if items[0].NativeID != "at://"+shinyaDID+"/app.bsky.feed.post/3jukdwsblqu2l" || items[len(items)-1].NativeID != "at://"+shinyaDID+"/app.bsky.feed.post/3k7hppwclet2b" {
				t.Errorf("not oldest first: %s … %s", items[0].NativeID, items[len(items)-1].NativeID)
			}
			for _, it := range items {
				if it.Fetch == nil || !strings.Contains(it.Fetch.URL, "/xrpc/app.bsky.feed.getAuthorFeed?") || it.Fetch.Status != 200 {
					t.Errorf("fetch facts %+v", it.Fetch)
				}
			}
			reply := byNativeID(items)["at://"+shinyaDID+"/app.bsky.feed.post/3k7hppwclet2b"]
			if reply.ReplyTo == nil || reply.ReplyTo.NativeID != "at://did:plc:ragtjsm2j2vknwkz3zp4oxrd/app.bsky.feed.post/3k7hpgxtkuy2g" ||
				reply.URL != "https://bsky.app/profile/shinyakato.dev/post/3k7hppwclet2b" || reply.Body != "Troubling situation" || reply.Lang != "en" {
				t.Errorf("reply item %+v", reply)
			}
			if reposts {
				var rp wire.RawItem
				for _, it := range items {
					if it.ForwardOf != nil {
						rp = it
					}
				}
				orig := "at://did:plc:gggcwmwoyak6op4pkqm76ckz/app.bsky.feed.post/3jukz62npim26"
				if rp.ForwardOf == nil || rp.ForwardOf.NativeID != orig || rp.ForwardOf.Source != "christopherpmoore.xyz" ||
					rp.NativeID != orig+"#repost-by-"+shinyaDID || rp.Author != "christopherpmoore.xyz" || rp.Source != "shinyakato" ||
					!strings.HasPrefix(rp.Body, "Had a great time at the Seattle meetup!") {
					t.Errorf("repost item %+v (forward_of %+v)", rp, rp.ForwardOf)
				}
			} else if c.Stats().Ignored < 1 {
				t.Errorf("the repost was not counted as ignored: %+v", c.Stats())
			}
			st := e.state("shinyakato")
			if st.Published != int64(want) || st.LastSuccess.IsZero() || st.LastError != "" || st.Polls < 1 {
				t.Errorf("state %+v", st)
			}
			if s := c.Stats(); s.Backfills != 1 || s.BackfillPages != 2 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestAppViewRateLimit: 429 answers with RateLimit-Reset are waited out
// (on the test clock) and counted; a reset beyond max_rate_wait gives up
// the read, shows the error in health, lets Jetstream run, and the read
// is retried later.
func TestAppViewRateLimit(t *testing.T) {
	t.Run("waited out", func(t *testing.T) {
		e := newEnv(t)
		e.av.pages[shinyaDID+" "] = "getAuthorFeed.json"
		e.av.throttle = 2
		c := e.collector(e.config(acctShinya))
		stop := e.run(c)
		waitFor(t, "the connection", func() bool { return c.Stats().Connects >= 1 })
		stop()
		if s := c.Stats(); s.RateLimited != 2 || s.Published != 20 {
			t.Errorf("stats %+v", s)
		}
		sleeps := e.clock.Sleeps()
		if len(sleeps) != 2 || sleeps[0] < 29*time.Second || sleeps[0] > 32*time.Second {
			t.Errorf("waits %v, want two of about 31s (RateLimit-Reset 30s ahead, plus a second)", sleeps)
		}
	})
	t.Run("too long", func(t *testing.T) {
		e := newEnv(t)
		e.av.pages[shinyaDID+" "] = "getAuthorFeed.json"
		e.av.throttle = 1
		e.av.reset = func() time.Time { return e.clock.Now().Add(time.Hour) }
		cfg := e.config(acctShinya)
		cfg.RetryInterval = 50 * time.Millisecond
		cfg.PingInterval = 10 * time.Millisecond
		c := e.collector(cfg)
		e.run(c)
		waitFor(t, "the failed read to show", func() bool {
			en, err := e.kv.Get(ctxT(t), StateKey("shinyakato"))
			if err != nil {
				return false
			}
			h, err := ingest.ReadHealth(en.Value())
			return err == nil && strings.Contains(h.LastError, "rate limited")
		})
		waitFor(t, "the retried read and the reconnect", func() bool { return c.Stats().Published == 20 && c.Stats().Connects >= 2 })
		if s := c.Stats(); s.Errors < 1 || s.Backfills != 2 {
			t.Errorf("stats %+v", s)
		}
		waitFor(t, "the error to clear", func() bool { return e.state("shinyakato").LastError == "" })
	})
}

// TestResolveHandle: a handle is resolved with the AppView (captured
// answer for bsky.app), cached in state and subscribed by DID; a handle
// that does not resolve marks only its own source failing.
func TestResolveHandle(t *testing.T) {
	e := newEnv(t)
	e.av.handles["bsky.app"] = "resolveHandle.json"
	accts := []Account{{ID: "bsky", Handle: "@bsky.app"}, {ID: "ghost", Handle: "nobody.invalid"}}
	c := e.collector(e.config(accts...))
	stop := e.run(c)
	// the client counts a connection once its handshake is done, which can
	// be before the server has recorded the query: wait for both
	waitFor(t, "the connection", func() bool { return c.Stats().Connects >= 1 && len(e.js.Queries()) >= 1 })
	stop()
	if got := e.js.Queries()[0]["wantedDids"]; !slices.Equal(got, []string{"did:plc:z72i7hdynmk6r22z27h6tvur"}) {
		t.Errorf("wantedDids %v", got)
	}
	if st := e.state("bsky"); st.DID != "did:plc:z72i7hdynmk6r22z27h6tvur" || st.Handle != "bsky.app" || st.Failing || st.Errors != 0 {
		t.Errorf("bsky state %+v", st)
	}
	en, err := e.kv.Get(ctxT(t), ingest.HealthKey("bluesky", "ghost"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ingest.ReadHealth(en.Value())
	if err != nil || !h.Failing || h.Errors != 1 || !strings.Contains(h.LastError, "Unable to resolve handle") || h.NextPoll.IsZero() {
		t.Errorf("ghost health %+v %v", h, err)
	}
	resolves := func() int {
		n := 0
		for _, r := range e.av.Requests() {
			if strings.Contains(r, "resolveHandle?handle=bsky.app") {
				n++
			}
		}
		return n
	}
	if resolves() != 1 {
		t.Fatalf("%d resolves", resolves())
	}
	// A restart uses the cached DID.
	c2 := e.collector(e.config(accts...))
	stop2 := e.run(c2)
	waitFor(t, "the second connection", func() bool { return c2.Stats().Connects >= 1 })
	stop2()
	if resolves() != 1 {
		t.Errorf("the restart resolved bsky.app again")
	}
}

// capturedFeedPost is a post of a captured feed answer with its record's
// exact bytes.
func capturedFeedPost(t *testing.T, file, uri string) postView {
	var page authorFeed
	if err := json.Unmarshal(fixture(t, file), &page); err != nil {
		t.Fatal(err)
	}
	for _, fv := range page.Feed {
		if fv.Post.URI == uri {
			return fv.Post
		}
	}
	t.Fatalf("no %s in %s", uri, file)
	return postView{}
}

// jetstreamFrameOf wraps a captured AppView post's record, unchanged, in
// a Jetstream commit event: the same post as the firehose carries it.
func jetstreamFrameOf(t *testing.T, p postView, timeUS int64) []byte {
	u, err := ParseURI(p.URI)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"did":%q,"time_us":%d,"kind":"commit","commit":{"rev":"3zzzzzzzzzz2a","operation":"create","collection":%q,"rkey":%q,"record":%s,"cid":%q}}`,
		u.DID, timeUS, u.Collection, u.RKey, p.Record, p.CID)
}

// TestSamePostTwoRoutes: a post read from the AppView and then seen on
// Jetstream is one raw item — one identity, one publish — and either
// route alone makes the same item.
func TestSamePostTwoRoutes(t *testing.T) {
	uri := "at://" + shinyaDID + "/app.bsky.feed.post/3jukdwsblqu2l"
	p := capturedFeedPost(t, "getAuthorFeed.json", uri)
	frame := jetstreamFrameOf(t, p, corpusStart.UnixMicro()+60_500_000)
	msgID := bus.RawMsgID(Kind, "shinyakato", uri)

	both := newEnv(t)
	both.av.pages[shinyaDID+" "] = "getAuthorFeed.json"
	both.js.plans = func(int) plan { return plan{extra: [][]byte{frame}} }
	c := both.collector(both.config(acctShinya))
	stop := both.run(c)
	waitFor(t, "the Jetstream copy", func() bool { return c.Stats().Events >= 1 })
	stop()
	if r := both.pub.Repeats(); len(r) > 0 {
		t.Errorf("published twice: %v", r)
	}
	if s := c.Stats(); s.Duplicates != 1 || s.Published != 20 {
		t.Errorf("stats %+v", s)
	}
	viaAppView := byNativeID(both.pub.Items())[uri]

	live := newEnv(t)
	live.js.plans = func(int) plan { return plan{extra: [][]byte{frame}} }
	c2 := live.collector(live.config(acctShinya))
	stop2 := live.run(c2)
	waitFor(t, "the Jetstream post", func() bool { return c2.Stats().Published >= 1 })
	stop2()
	items, ids := live.items()
	if len(items) != 1 || ids[0] != msgID {
		t.Fatalf("Jetstream alone published %d items, ids %v", len(items), ids)
	}
	viaJetstream := items[0]
	for _, it := range []*wire.RawItem{&viaAppView, &viaJetstream} {
		it.ObservedAt, it.Fetch, it.Schema = time.Time{}, nil, ""
	}
	a, _ := json.Marshal(viaAppView)
	b, _ := json.Marshal(viaJetstream)
	if string(a) != string(b) {
		t.Errorf("the routes make different items:\n appview   %s\n jetstream %s", a, b)
	}
	if !strings.HasSuffix(viaJetstream.Body, "https://psky.app/profile/why.bsky.team/post/3juk5phzpf62w") {
		t.Errorf("body %q", viaJetstream.Body)
	}
	// Both are valid raw items, and the normalizer makes one entry of them.
	v, err := schema.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var entries []wire.Entry
	for _, it := range []wire.RawItem{viaAppView, viaJetstream} {
		it.Schema, it.ObservedAt = wire.SchemaRaw, corpusStart
		data, _ := json.Marshal(it)
		if err := v.Validate(schema.Raw, data); err != nil {
			t.Errorf("raw item fails its schema: %v", err)
		}
		en, err := normalize.Normalize(normalize.DefaultConfig(), it, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, en)
	}
	if entries[0].ID != entries[1].ID || entries[0].Fingerprint != entries[1].Fingerprint || entries[0].URL != "https://bsky.app/profile/shinyakato.dev/post/3jukdwsblqu2l" {
		t.Errorf("entries differ: %+v\n%+v", entries[0], entries[1])
	}
}

// TestLongDisconnectReadsTheGap: after a disconnect longer than GapAfter,
// the reconnect first reads the AppView back to the cursor the dropped
// connection reached, so posts made while it was down are published. The
// clock runs from 30 April 2023 00:05 UTC, inside the captured feed.
func TestLongDisconnectReadsTheGap(t *testing.T) {
	e := newEnv(t)
	e.clock = newClock(time.Date(2023, 4, 30, 0, 5, 0, 0, time.UTC))
	e.av.pages[shinyaDID+" "] = "getAuthorFeed.json"
	e.js.plans = func(n int) plan { return plan{hangUp: n == 0} }
	a := acctShinya
	a.Backfill = 1
	cfg := e.config(a)
	cfg.GapAfter = time.Nanosecond
	c := e.collector(cfg)
	stop := e.run(c)
	waitFor(t, "the reconnect", func() bool { return c.Stats().Connects >= 2 })
	stop()
	reqs := feedRequests(e.av.Requests())
	if len(reqs) != 2 {
		t.Fatalf("feed requests %v", reqs)
	}
	// The start takes the newest post; the gap read the ten others from
	// 00:06:14 on (the cursor was 00:05, less the rewind).
	if s := c.Stats(); s.Published != 11 || s.Backfills != 2 || s.Duplicates != 1 || s.Reconnects != 1 {
		t.Errorf("stats %+v", s)
	}
	if st := e.state("shinyakato"); st.NeedsFill || st.FillFrom != 0 || st.Published != 11 {
		t.Errorf("state %+v", st)
	}
}
