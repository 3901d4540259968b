package bluesky

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/newswire/newswire/ingest"
)

// The AppView's refusals. 401 is the XRPC shape of an AppView that wants a
// login (error AuthMissing, as the XRPC servers name it); 403 is what a
// proxy or firewall in front of an AppView answers, not JSON; 400
// "Profile not found" is getAuthorFeed's answer for an account it does
// not serve (gone or taken down). Documented shapes, not captures.
const (
	body401 = `{"error":"AuthMissing","message":"Authentication Required"}`
	body403 = `Forbidden`
	body400 = `{"error":"InvalidRequest","message":"Profile not found"}`
)

func (s *fakeAppView) count(method string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, "/xrpc/"+method+"?") {
			n++
		}
	}
	return n
}

// TestAppViewRefuses: when the AppView answers 401, 403 (or 400 for the
// account's feed), the source is marked failing with an error that says
// what the AppView answered and what to check, logged at error level; the
// collector keeps running, Jetstream still carries the account's live
// posts, and the refused call is retried only after RetryInterval (an
// hour here: not once more during the test). Once the AppView answers
// again, a restart reads what was missed and the source is healthy, with
// no post published twice.
func TestAppViewRefuses(t *testing.T) {
	const feed, resolve = "app.bsky.feed.getAuthorFeed", "com.atproto.identity.resolveHandle"
	for _, tc := range []struct {
		name     string
		method   string
		refusal  refusal
		source   string   // the source refused
		want     []string // in its last_error
		accounts []Account
	}{
		{"feed 401", feed, refusal{401, body401}, "shinyakato",
			[]string{"getAuthorFeed: HTTP 401 AuthMissing: Authentication Required", "appview_url"}, []Account{acctShinya}},
		{"feed 403", feed, refusal{403, body403}, "shinyakato",
			[]string{"getAuthorFeed: HTTP 403", "appview_url"}, []Account{acctShinya}},
		{"feed 400", feed, refusal{400, body400}, "shinyakato",
			[]string{"getAuthorFeed: HTTP 400 InvalidRequest: Profile not found"}, []Account{acctShinya}},
		{"resolve 401", resolve, refusal{401, body401}, "bsky",
			[]string{"resolveHandle: HTTP 401 AuthMissing", "appview_url"}, []Account{{ID: "bsky", Handle: "bsky.app"}, acctShinya}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.av.pages[shinyaDID+" "] = "getAuthorFeed.json"
			e.av.setRefusal(tc.method, tc.refusal)
			// One of the account's posts arrives live on Jetstream.
			uri := "at://" + shinyaDID + "/app.bsky.feed.post/3jukdwsblqu2l"
			live := jetstreamFrameOf(t, capturedFeedPost(t, "getAuthorFeed.json", uri), corpusStart.UnixMicro()+60_500_000)
			e.js.plans = func(int) plan { return plan{extra: [][]byte{live}} }

			core, logs := observer.New(zap.ErrorLevel)
			log := zap.New(zapcore.NewTee(zaptestLogger(t).Core(), core))
			c, err := New(e.config(tc.accounts...), e.pub, e.kv, e.avSrv.Client(), log)
			if err != nil {
				t.Fatal(err)
			}
			stop := e.run(c)
			health := func() ingest.Health {
				en, err := e.kv.Get(ctxT(t), StateKey(tc.source))
				if err != nil {
					return ingest.Health{}
				}
				h, _ := ingest.ReadHealth(en.Value())
				return h
			}
			// The live post counts once the bus took it and the collector
			// remembers it (a publish cut short by the stop would be made
			// again after the restart, a repeat the bus drops but the
			// recorder would count).
			waitFor(t, "the source failing and the live post", func() bool {
				s := c.Stats()
				return health().Failing && s.Connects >= 1 && s.Published+s.Duplicates >= 1 && byNativeID(e.pub.Items())[uri].NativeID != ""
			})
			stop() // Run returns nil: the refusal stopped nothing else

			h := health()
			for _, w := range tc.want {
				if !strings.Contains(h.LastError, w) {
					t.Errorf("last_error %q does not say %q", h.LastError, w)
				}
			}
			if n := e.av.count(tc.method); n != 1 {
				t.Errorf("%s asked %d times; want once, then not before RetryInterval", tc.method, n)
			}
			loud := false
			for _, en := range logs.All() {
				for _, f := range en.Context {
					if f.Key == "source" && f.String == tc.source {
						loud = true
					}
				}
			}
			if !loud {
				t.Errorf("no error-level log names %s: %v", tc.source, logs.All())
			}

			// The AppView answers again: a restart reads what was missed.
			e.av.setRefusal(tc.method, refusal{})
			e.av.handles["bsky.app"] = "resolveHandle.json"
			c2 := e.collector(e.config(tc.accounts...))
			stop2 := e.run(c2)
			waitFor(t, "the source healthy again", func() bool {
				st := e.state(tc.source)
				return c2.Stats().Connects >= 1 && !st.Failing && st.LastError == "" && !st.NeedsFill && st.DID != ""
			})
			stop2()
			if got := len(byNativeID(e.pub.Items())); got != 20 {
				t.Errorf("%d posts of shinyakato.dev published, want the 20 of its feed", got)
			}
			if r := e.pub.Repeats(); len(r) > 0 {
				t.Errorf("published twice: %v", r)
			}
		})
	}
}

// TestRefusedRepostWaitsForTheFeed: a 401 from getPosts for a Jetstream
// repost is about the collector, not about the reposted post: the repost
// is not skipped as unreadable but left to a later read of the account's
// feed, as when the AppView is down, and the stream goes on.
func TestRefusedRepostWaitsForTheFeed(t *testing.T) {
	e := newEnv(t)
	e.av.setRefusal("app.bsky.feed.getPosts", refusal{401, body401})
	ts := corpusStart.UnixMicro() + 61_000_000
	e.js.plans = func(int) plan { return plan{extra: [][]byte{repostFrame(ts)}} }
	c := e.collector(e.config(acctRepost, acctThread))
	stop := e.run(c)
	waitFor(t, "the events", func() bool { return c.Stats().Events >= 5 })
	stop()
	if s := c.Stats(); s.Published != 3 || s.Skipped != 0 || s.Errors < 1 {
		t.Errorf("stats %+v", s)
	}
	if st := e.state("reposter"); !st.NeedsFill || st.FillFrom == 0 || st.FillFrom > ts || st.Skipped != 0 {
		t.Errorf("reposter state %+v: the AppView read from the repost on must be pending", st)
	}
}
