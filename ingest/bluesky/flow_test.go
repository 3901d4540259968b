package bluesky

import (
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
)

// Accounts of the captured Jetstream window, pinned by DID (the capture
// names no handles; the handles here are test configuration).
var (
	acctLink   = Account{ID: "yt-link", Handle: "link.example", DID: "did:plc:dclwtltrt2ggsryagfzk7dp4", Code: "LINK"}
	acctJa     = Account{ID: "ja", Handle: "ja.example", DID: "did:plc:amnbije7mr5g3pgxuun7q44o"}
	acctThread = Account{ID: "thread", Handle: "thread.example", DID: "did:plc:u4lmvw4wwzaql3z5kcf3r7h4"}
	acctCard   = Account{ID: "card", Handle: "card.example", DID: "did:plc:ajg5c7huhiibhwandhdscpdq"}
	acctDelete = Account{ID: "deleter", Handle: "deleter.example", DID: "did:plc:4smmjsqf6l5jkzczvw6vsrqc"}
	acctRepost = Account{ID: "reposter", Handle: "reposter.example", DID: "did:plc:5er4dj3kkwyj4cy5gdnzn56w", Reposts: true}
	acctIdent  = Account{ID: "ident", Handle: "ident.example", DID: "did:plc:hqvhxrowqbemo5e4wjnj6zao"}
)

func flowAccounts() []Account {
	return []Account{acctLink, acctJa, acctThread, acctCard, acctDelete, acctRepost, acctIdent}
}

// the captured posts of flowAccounts
var flowPosts = []string{
	"at://did:plc:dclwtltrt2ggsryagfzk7dp4/app.bsky.feed.post/3mptbyoeyc22k",
	"at://did:plc:amnbije7mr5g3pgxuun7q44o/app.bsky.feed.post/3mptbyqhi7s2f",
	"at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyospqk2i",
	"at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyou7ls2i",
	"at://did:plc:u4lmvw4wwzaql3z5kcf3r7h4/app.bsky.feed.post/3mptbyoumc22i",
	"at://did:plc:ajg5c7huhiibhwandhdscpdq/app.bsky.feed.post/3mptbyproxc2q",
}

// TestJetstreamFlow replays the captured production events through the
// fake Jetstream, plain and zstd-compressed with Jetstream's dictionary,
// and checks what reaches the bus.
func TestJetstreamFlow(t *testing.T) {
	for _, comp := range []string{CompressionNone, CompressionZstd} {
		t.Run(comp, func(t *testing.T) {
			e := newEnv(t)
			cfg := e.config(flowAccounts()...)
			cfg.Compression = comp
			c := e.collector(cfg)
			stop := e.run(c)
			// 6 posts, 1 repost whose post the AppView does not have, 1
			// delete, an identity and an account event: 10 events.
			waitFor(t, "the captured events", func() bool { return c.Stats().Events >= 10 })
			stop()

			q := e.js.Queries()[0]
			if got := q.Get("compress"); (got == "true") != (comp == CompressionZstd) {
				t.Errorf("compress=%q for %s", got, comp)
			}
			if got := q["wantedCollections"]; strings.Join(got, ",") != CollectionPost+","+CollectionRepost {
				t.Errorf("wantedCollections %v", got)
			}
			if len(q["wantedDids"]) != 7 || q.Get("cursor") == "" {
				t.Errorf("subscribe query %v", q)
			}
			st := c.Stats()
			if st.Published != 6 || st.Malformed != 0 || st.Oversized != 0 || st.UnknownDeletes != 1 || st.Skipped != 1 || st.Connects != 1 {
				t.Errorf("stats %+v", st)
			}
			items, ids := e.items()
			got := byNativeID(items)
			for _, uri := range flowPosts {
				if _, ok := got[uri]; !ok {
					t.Errorf("post %s not on the bus", uri)
				}
			}
			for i, it := range items {
				u, _ := ParseURI(it.NativeID)
				if want := bus.RawMsgID(Kind, it.Source, it.NativeID); ids[i] != want {
					t.Errorf("msg id %q, want %q", ids[i], want)
				}
				if it.Kind != Kind || it.ObservedAt.IsZero() || it.Fetch == nil || it.Fetch.URL != cfg.JetstreamURL || !strings.HasSuffix(it.URL, "/post/"+u.RKey) {
					t.Errorf("item facts: %+v", it)
				}
			}
			yt := got[flowPosts[0]]
			if yt.Body != "https://www.youtube.com/watch?v=V5lDo-jw8mA" || yt.URL != "https://bsky.app/profile/link.example/post/3mptbyoeyc22k" ||
				yt.Published != "2026-07-04T14:38:06.240Z" || yt.Lang != "en" || yt.Source != "yt-link" || yt.SourceCode != "LINK" || yt.SourceName != "@link.example" {
				t.Errorf("link post: %+v", yt)
			}
			reply := got[flowPosts[3]]
			if reply.ReplyTo == nil || reply.ReplyTo.Kind != Kind || !strings.HasPrefix(reply.ReplyTo.NativeID, "at://") || reply.Lang != "tr" {
				t.Errorf("reply: %+v (reply_to %+v)", reply, reply.ReplyTo)
			}
			if card := got[flowPosts[5]]; !strings.HasPrefix(card.Body, "https://") {
				t.Errorf("a post with only a link card carries the link: %q", card.Body)
			}
			if ja := got[flowPosts[1]]; !strings.HasPrefix(ja.Body, "待って天幕の") || ja.Lang != "ja" {
				t.Errorf("ja post: %q %q", ja.Body, ja.Lang)
			}
			if h := e.state("thread"); h.Published != 3 || h.Cursor < 1783175888085434 || h.LastSuccess.IsZero() || h.LastNew.IsZero() || len(h.Known) != 3 || h.DID != acctThread.DID {
				t.Errorf("thread state %+v", h)
			}
		})
	}
}

// TestMalformedAndOversizedFrames: frames that are not JSON, events
// without their fields, garbage where zstd was expected and a frame over
// the limit are skipped, counted and logged; the connection and the
// events after them go on.
func TestMalformedAndOversizedFrames(t *testing.T) {
	for _, comp := range []string{CompressionNone, CompressionZstd} {
		t.Run(comp, func(t *testing.T) {
			e := newEnv(t)
			big := []byte(`{"did":"did:plc:dclwtltrt2ggsryagfzk7dp4","time_us":1783175888085000,"kind":"commit","commit":{"rev":"x","operation":"create","collection":"app.bsky.feed.post","rkey":"3big","cid":"bafy","record":{"text":"` + strings.Repeat("a", 5000) + `"}}}`)
			bad := []frame{
				{data: []byte(`not json at all`)},
				{data: []byte(`{"did":"did:plc:dclwtltrt2ggsryagfzk7dp4","kind":"commit"}`)},
				{data: []byte(`{"did":"did:plc:dclwtltrt2ggsryagfzk7dp4","time_us":1783175888085000,"kind":"commit","commit":{"operation":"explode","collection":"app.bsky.feed.post","rkey":"1"}}`)},
				{data: []byte(`{"did":"did:plc:dclwtltrt2ggsryagfzk7dp4","time_us":1783175888085000,"kind":"commit","commit":{"rev":"x","operation":"create","collection":"app.bsky.feed.post","rkey":"2","cid":"bafy","record":{"text":5}}}`)},
				{data: []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x01, 0x02}, binary: true},
				{data: big},
			}
			e.js.plans = func(int) plan { return plan{inject: map[int][]frame{0: bad[:3], 2: bad[3:]}} }
			cfg := e.config(flowAccounts()...)
			cfg.Compression = comp
			cfg.MaxFrame = 4096
			c := e.collector(cfg)
			e.run(c)
			waitFor(t, "every frame", func() bool { return c.Stats().Events >= 10 && c.Stats().Frames >= 16 })
			st := c.Stats()
			if st.Malformed != 5 || st.Oversized != 1 || st.Connects != 1 || st.Published != 6 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestReconnectWithoutLossOrRepeats drops the connection mid-stream; the
// collector backs off (on the test clock), reconnects from its cursor less
// the rewind and recognises the events it sees again — also from a server
// that ignores the cursor and replays everything.
func TestReconnectWithoutLossOrRepeats(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := "cursor honoured"
		if ignore {
			name = "cursor ignored"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.js.plans = func(n int) plan {
				if n == 0 {
					return plan{dropAfter: 4}
				}
				return plan{ignoreCursor: ignore}
			}
			c := e.collector(e.config(flowAccounts()...))
			stop := e.run(c)
			waitFor(t, "the second connection's events", func() bool { return c.Stats().Connects >= 2 && c.Stats().Events >= 14 })
			stop()
			if r := e.pub.Repeats(); len(r) > 0 {
				t.Errorf("published more than once: %v", r)
			}
			got := byNativeID(e.pub.Items())
			for _, uri := range flowPosts {
				if _, ok := got[uri]; !ok {
					t.Errorf("post %s lost", uri)
				}
			}
			st := c.Stats()
			if st.Reconnects != 1 || st.Duplicates == 0 || st.Published != 6 {
				t.Errorf("stats %+v", st)
			}
			qs := e.js.Queries()
			first, second := qs[0].Get("cursor"), qs[1].Get("cursor")
			if first == "" || second == "" || second <= first {
				t.Errorf("cursors %s then %s: the reconnect must resume from what it handled", first, second)
			}
			if s := e.clock.Sleeps(); len(s) != 1 || s[0] < 500*time.Millisecond || s[0] > time.Second {
				t.Errorf("backoff waits %v, want one of 0.5–1s", s)
			}
			if h := e.state("thread"); h.Errors != 0 || h.LastError != "" {
				t.Errorf("health after a good reconnect: %+v", h.Health)
			}
		})
	}
}

// TestDeleteBecomesWithdrawal: a captured delete of a post an earlier run
// published becomes a withdrawal, once, also when the delete is seen again.
func TestDeleteBecomesWithdrawal(t *testing.T) {
	e := newEnv(t)
	e.putState("deleter", State{Handle: "deleter.example", DID: acctDelete.DID, Known: []string{"p/3mpt73z3ejc2p@bafyreiexample"}})
	e.js.plans = func(n int) plan {
		if n == 0 {
			return plan{hangUp: true}
		}
		return plan{ignoreCursor: true}
	}
	c := e.collector(e.config(acctDelete, acctLink))
	e.run(c)
	waitFor(t, "the delete twice", func() bool { return c.Stats().Connects >= 2 && c.Stats().Events >= 4 })
	items, ids := e.items()
	var withdrawals int
	for i, it := range items {
		if it.Deleted {
			withdrawals++
			want := "at://did:plc:4smmjsqf6l5jkzczvw6vsrqc/app.bsky.feed.post/3mpt73z3ejc2p"
			if it.NativeID != want || it.Source != "deleter" || it.Body != "" || it.URL != "https://bsky.app/profile/deleter.example/post/3mpt73z3ejc2p" {
				t.Errorf("withdrawal %+v", it)
			}
			if ids[i] != bus.WithdrawalMsgID(bus.RawMsgID(Kind, "deleter", want)) {
				t.Errorf("withdrawal msg id %q", ids[i])
			}
		}
	}
	st := c.Stats()
	if withdrawals != 1 || st.Withdrawn != 1 || st.UnknownDeletes != 1 {
		t.Errorf("%d withdrawals on the bus, stats %+v", withdrawals, st)
	}
	if h := e.state("deleter"); h.Withdrawn != 1 || len(h.Known) != 0 {
		t.Errorf("deleter state %+v", h)
	}
}
