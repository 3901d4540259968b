package bluesky

import (
	"fmt"
	"strings"
	"testing"
)

// repostFrame is a Jetstream repost event by the reposter account whose
// record names the post of the captured getPosts answer. The envelope
// and record follow the captured repost events; only the subject is the
// post the AppView answer holds.
func repostFrame(timeUS int64) []byte {
	return fmt.Appendf(nil, `{"did":"did:plc:5er4dj3kkwyj4cy5gdnzn56w","time_us":%d,"kind":"commit","commit":{"rev":"3mptbzzzzzz2a","operation":"create","collection":"app.bsky.feed.repost","rkey":"3mptbzrepost2a","record":{"$type":"app.bsky.feed.repost","createdAt":"2026-07-04T14:38:09.000Z","subject":{"cid":"bafyreicrsjmhp5ssxuvjhkdv2bmvlr6ai2mhanw5cxd7hbj7yljdavsbmu","uri":"at://did:plc:d3zpokjdspr22chfrc427eis/app.bsky.feed.post/3ju4p6u2i3a2g"}},"cid":"bafyreirepostrepostrepostrepostrepostrepostrepostrepost"}}`, timeUS)
}

// TestJetstreamRepost: a repost on Jetstream is published with the
// reposted post's text from the AppView, named by the repost record and
// forward_of the post; when the AppView is down the repost is left to a
// later read of the account's feed, recorded in state, and the stream
// goes on.
func TestJetstreamRepost(t *testing.T) {
	t.Run("published", func(t *testing.T) {
		e := newEnv(t)
		e.js.plans = func(int) plan { return plan{extra: [][]byte{repostFrame(corpusStart.UnixMicro() + 61_000_000)}} }
		c := e.collector(e.config(acctRepost))
		e.run(c)
		waitFor(t, "the repost", func() bool { return c.Stats().Published >= 1 })
		it := e.pub.Items()[0]
		orig := "at://did:plc:d3zpokjdspr22chfrc427eis/app.bsky.feed.post/3ju4p6u2i3a2g"
		if it.NativeID != "at://did:plc:5er4dj3kkwyj4cy5gdnzn56w/app.bsky.feed.repost/3mptbzrepost2a" || it.ForwardOf == nil || it.ForwardOf.NativeID != orig ||
			!strings.HasPrefix(it.Body, "eu queria um fone de ouvido com fio") || it.Source != "reposter" || it.URL != it.ForwardOf.URL ||
			!strings.HasPrefix(it.URL, "https://bsky.app/profile/") {
			t.Errorf("repost item %+v (forward_of %+v)", it, it.ForwardOf)
		}
		if s := c.Stats(); s.Skipped != 1 { // the captured repost names a post the AppView answer lacks
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("appview down", func(t *testing.T) {
		e := newEnv(t)
		e.av.down = true
		ts := corpusStart.UnixMicro() + 61_000_000
		e.js.plans = func(int) plan { return plan{extra: [][]byte{repostFrame(ts)}} }
		c := e.collector(e.config(acctRepost, acctThread))
		stop := e.run(c)
		waitFor(t, "the events", func() bool { return c.Stats().Events >= 5 })
		stop()
		if s := c.Stats(); s.Published != 3 || s.Errors < 1 || s.Connects != 1 {
			t.Errorf("stats %+v", s)
		}
		if st := e.state("reposter"); !st.NeedsFill || st.FillFrom == 0 || st.FillFrom > ts {
			t.Errorf("reposter state %+v: the AppView read from the repost on must be pending", st)
		}
	})
}
