package tgweb

import (
	"slices"
	"testing"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// withdrawal is a Deleted raw item with the Nats-Msg-Id the bus stored it under.
type withdrawal struct {
	item  wire.RawItem
	msgID string
}

func (e *env) withdrawals(t *testing.T) []withdrawal {
	t.Helper()
	ctx := ctxT(t)
	s, err := e.bus.JS.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []withdrawal
	for i, it := range e.items(t) {
		if !it.Deleted {
			continue
		}
		m, err := s.GetMsg(ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, withdrawal{item: it, msgID: m.Header.Get(bus.HeaderMsgID)})
	}
	return out
}

func TestDeletedPostIsWithdrawnOnce(t *testing.T) {
	e := newEnv(t)
	c := e.collector(t)
	ch := c.cfg.Channels[0]
	poll := func(c *Collector, fixture string) error {
		t.Helper()
		e.site.set("/s/reuters", fixture)
		return c.Poll(ctxT(t), ch)
	}
	if err := poll(c, "page_full.html"); err != nil {
		t.Fatal(err)
	}
	// 103 is a photo without text: never published, so never withdrawn.
	if st := e.state(t, c, "reuters-web"); !slices.Equal(st.Known, []int{101, 102, 104, 105}) {
		t.Fatalf("known ids %v", st.Known)
	}

	// Fetches that must not withdraw anything: the page cut off inside
	// 102 (104 and 105 are above its newest post), a page with an
	// unreadable block, and a page that cannot be fetched.
	if err := poll(c, "page_truncated.html"); err != nil {
		t.Fatal(err)
	}
	if err := poll(c, "page_deleted_malformed.html"); err != nil {
		t.Fatal(err)
	}
	if err := poll(c, "no_such_page.html"); err == nil {
		t.Fatal("a missing page polled without error")
	}
	if got := e.withdrawals(t); len(got) != 0 {
		t.Fatalf("withdrawals from bad fetches: %+v", got)
	}
	if st := e.state(t, c, "reuters-web"); !slices.Equal(st.Known, []int{101, 102, 104, 105}) {
		t.Fatalf("bad fetches changed the known ids: %v", st.Known)
	}

	// 104 deleted: the page now reaches back to 100 and 104 is inside it.
	if err := poll(c, "page_deleted.html"); err != nil {
		t.Fatal(err)
	}
	got := e.withdrawals(t)
	if len(got) != 1 {
		t.Fatalf("%d withdrawals, want 1: %+v", len(got), got)
	}
	w := got[0]
	if w.item.NativeID != "reuters/104" || w.item.Kind != Kind || w.item.Source != "reuters-web" || w.item.URL != "https://t.me/reuters/104" || w.item.Body != "" || w.item.SourceCode != "RTRS" {
		t.Errorf("withdrawal item %+v", w.item)
	}
	if want := "telegram:reuters-web:reuters/104:withdrawn"; w.msgID != want {
		t.Errorf("withdrawal Nats-Msg-Id %q, want %q", w.msgID, want)
	}
	// The real normalizer makes of it a withdrawal of the post's own entry.
	var post wire.RawItem
	for _, it := range e.items(t) {
		if it.NativeID == "reuters/104" && !it.Deleted {
			post = it
		}
	}
	cfg := normalize.DefaultConfig()
	orig, err := normalize.Normalize(cfg, post, provenance.RawRef{})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := normalize.Normalize(cfg, w.item, provenance.RawRef{MsgID: w.msgID})
	if err != nil {
		t.Fatal(err)
	}
	if !gone.Withdrawn || gone.ID != orig.ID {
		t.Errorf("normalized withdrawal: withdrawn %v id %s, want the post's entry %s", gone.Withdrawn, gone.ID, orig.ID)
	}
	if st := e.state(t, c, "reuters-web"); !slices.Equal(st.Known, []int{101, 102, 105}) || st.Withdrawn != 1 {
		t.Errorf("state after withdrawal: known %v withdrawn %d", st.Known, st.Withdrawn)
	}
	if s := c.Stats()["reuters-web"]; s.Withdrawn != 1 {
		t.Errorf("stats %+v", s)
	}

	// Unchanged page: 304, nothing.
	if err := poll(c, "page_deleted.html"); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats()["reuters-web"]; s.NotModified != 1 {
		t.Errorf("second fetch of the same page was not a 304: %+v", s)
	}

	// A restarted collector given the whole page again withdraws nothing twice.
	e.site.mu.Lock()
	e.site.fresh = true
	e.site.mu.Unlock()
	c2 := e.collector(t)
	if err := poll(c2, "page_deleted.html"); err != nil {
		t.Fatal(err)
	}
	if s := c2.Stats()["reuters-web"]; s.NotModified != 0 || s.Withdrawn != 0 {
		t.Errorf("restart stats %+v; want a full fetch and no withdrawal", s)
	}
	if got := e.withdrawals(t); len(got) != 1 {
		t.Errorf("%d withdrawals after restart, want still 1", len(got))
	}
}

func TestPageRange(t *testing.T) {
	post := func(ch string, id int) Post { return Post{Channel: ch, ID: id} }
	for _, tc := range []struct {
		name   string
		page   *Page
		lo, hi int
		ok     bool
	}{
		{"whole", &Page{Posts: []Post{post("Reuters", 7), post("reuters", 3), post("reuters", 9)}}, 3, 9, true},
		{"one post", &Page{Posts: []Post{post("reuters", 7)}}, 0, 0, false},
		{"unreadable block", &Page{Posts: []Post{post("reuters", 3), post("reuters", 9)}, Malformed: 1}, 0, 0, false},
		{"other channel", &Page{Posts: []Post{post("reuters", 3), post("other", 9)}}, 0, 0, false},
		{"no page", nil, 0, 0, false},
	} {
		lo, hi, ok := pageRange(tc.page, "reuters")
		if lo != tc.lo || hi != tc.hi || ok != tc.ok {
			t.Errorf("%s: got %d %d %v, want %d %d %v", tc.name, lo, hi, ok, tc.lo, tc.hi, tc.ok)
		}
	}
}

func TestMergeKnownIsBounded(t *testing.T) {
	var known []int
	for id := 1; id <= maxKnown+10; id += 2 {
		known = mergeKnown(known, []int{id, id + 1, id})
	}
	if len(known) != maxKnown || known[0] != 11 || known[len(known)-1] != maxKnown+10 {
		t.Errorf("known %d ids from %d to %d", len(known), known[0], known[len(known)-1])
	}
}
