package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	gotd "github.com/gotd/td/telegram"
	"github.com/gotd/td/tg"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testCtx(t *testing.T) context.Context {
	// generous: an MTProto key exchange under -race on a loaded machine
	// takes tens of seconds; a deadline only bounds a hung test
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func login(t *testing.T, ctx context.Context, w *world, opts gotd.Options, path string) *tg.User {
	t.Helper()
	u, err := Login(ctx, LoginConfig{
		AppID: 1, AppHash: "hash", SessionFile: path, Phone: "+15550100",
		Code:     func(context.Context) (string, error) { return "12-345\n", nil },
		Password: func(context.Context) (string, error) { return "correct horse\n", nil },
		Client:   opts,
	}, nil)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return u
}

func TestLoginWritesSession(t *testing.T) {
	ctx := testCtx(t)
	w := newWorld()
	opts := startCluster(t, w)
	path := sessionPath(t)
	u := login(t, ctx, w, opts, path)
	if u.ID != testUser.ID {
		t.Fatalf("signed in as %d, want %d", u.ID, testUser.ID)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no session file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("session file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !json.Valid(data) || !strings.Contains(string(data), "AuthKey") {
		t.Errorf("session file does not hold an auth key: %.80q", data)
	}
	if n := w.count("auth.signIn"); n != 1 {
		t.Errorf("auth.signIn called %d times", n)
	}
	// A second login with the same session finds it signed in and asks for no code.
	login(t, ctx, w, opts, path)
	if n := w.count("auth.sendCode"); n != 1 {
		t.Errorf("auth.sendCode called %d times, want 1", n)
	}
}

func TestLoginTwoStepPassword(t *testing.T) {
	ctx := testCtx(t)
	w := newWorld()
	w.password = "correct horse"
	opts := startCluster(t, w)
	login(t, ctx, w, opts, sessionPath(t))
	if n := w.count("auth.checkPassword"); n != 1 {
		t.Fatalf("auth.checkPassword called %d times", n)
	}

	w2 := newWorld()
	w2.password = "another secret"
	opts2 := startCluster(t, w2)
	_, err := Login(ctx, LoginConfig{
		AppID: 1, AppHash: "hash", SessionFile: sessionPath(t), Phone: "+15550100",
		Code:     func(context.Context) (string, error) { return "12345", nil },
		Password: func(context.Context) (string, error) { return "wrong", nil },
		Client:   opts2,
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "password is wrong") {
		t.Fatalf("wrong password: got %v", err)
	}
}

type fixture struct {
	w      *world
	opts   gotd.Options
	bus    *bustest.Server
	kv     jetstream.KeyValue
	pub    ingest.Publisher
	sess   string
	origin *tg.Channel
	chn    *tg.Channel
	// now, when set, is the collectors' clock.
	now func() time.Time
}

func newFixture(t *testing.T) *fixture {
	ctx := testCtx(t)
	f := &fixture{w: newWorld(), bus: bustest.Start(t), sess: sessionPath(t)}
	f.opts = startCluster(t, f.w)
	kv, err := f.bus.JS.KeyValue(ctx, bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	f.kv = kv
	f.pub = ingest.NewJetStreamPublisher(f.bus.JS)
	f.chn = f.w.addChannel(1001, "Reuters", "Reuters World")
	f.origin = f.w.addChannel(2002, "OriginNews", "Origin News")
	login(t, ctx, f.w, f.opts, f.sess)
	return f
}

func (f *fixture) collector(t *testing.T, chans ...Channel) *Collector {
	if len(chans) == 0 {
		chans = []Channel{{ID: "reuters", Username: "Reuters", Code: "RTRS", Interval: time.Hour}}
	}
	log := zap.NewNop()
	if os.Getenv("TG_DEBUG") != "" {
		log, _ = zap.NewDevelopment()
	}
	c, err := New(Config{AppID: 1, AppHash: "hash", SessionFile: f.sess, Channels: chans, Rate: 50, Client: f.opts, Now: f.now}, f.pub, f.kv, log)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runUntil runs c until cond holds (checked every 50ms) and stops it.
func runUntil(t *testing.T, c *Collector, cond func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.After(3 * time.Minute)
	for !cond() {
		select {
		case err := <-done:
			cancel()
			return err
		case <-deadline:
			cancel()
			<-done
			t.Fatal("condition not met in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	return <-done
}

func rawItems(t *testing.T, js jetstream.JetStream) []wire.RawItem {
	t.Helper()
	ctx := testCtx(t)
	s, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire.RawItem
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var it wire.RawItem
		if err := json.Unmarshal(m.Data, &it); err != nil {
			t.Fatal(err)
		}
		out = append(out, it)
	}
	return out
}

func state(t *testing.T, kv jetstream.KeyValue, id string) State {
	t.Helper()
	st, err := loadState(testCtx(t), kv, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPollPublishesRawItems(t *testing.T) {
	f := newFixture(t)
	ch := f.chn.ID

	bold := textMsg(ch, 1, "Breaking: quake hits 🇯🇵 Japan coast. Details")
	// The flag emoji is 4 UTF-16 units, so "Details" starts at unit 39, not rune 37.
	bold.Entities = []tg.MessageEntityClass{
		&tg.MessageEntityBold{Offset: 0, Length: 8},
		&tg.MessageEntityTextURL{Offset: 39, Length: 7, URL: "https://example.com/quake?a=1&b=2"},
	}
	bold.EditDate = 1717239999
	bold.SetFlags()
	service := &tg.MessageService{ID: 2, PeerID: &tg.PeerChannel{ChannelID: ch}, Date: 1717236120, Action: &tg.MessageActionPinMessage{}}
	fwd := textMsg(ch, 3, "Officials confirm the evacuation order.")
	fwd.FwdFrom = tg.MessageFwdHeader{FromID: &tg.PeerChannel{ChannelID: f.origin.ID}, ChannelPost: 88, Date: 1717230000}
	fwd.SetFlags()
	// 4 is deleted; 5 exists but a history page misses it.
	reply := textMsg(ch, 5, "Update to the report above.")
	reply.ReplyTo = &tg.MessageReplyHeader{ReplyToMsgID: 1}
	reply.SetFlags()
	photo := textMsg(ch, 6, "")
	photo.Media = &tg.MessageMediaPhoto{}
	photo.SetFlags()
	poll := textMsg(ch, 7, "")
	poll.Media = &tg.MessageMediaPoll{Poll: tg.Poll{Question: "Will rates rise?", Answers: []tg.PollAnswer{{Text: "Yes", Option: []byte{0}}, {Text: "No", Option: []byte{1}}}}, Results: tg.PollResults{}}
	poll.SetFlags()
	f.w.post(ch, bold, service, fwd, reply, photo, poll)
	f.w.hiddenIDs[5] = true
	f.w.private["secretdesk"] = true

	c := f.collector(t,
		Channel{ID: "reuters", Username: "Reuters", Code: "RTRS", Interval: time.Hour},
		Channel{ID: "secret", Username: "SecretDesk", Interval: time.Hour},
		Channel{ID: "ghost", Username: "NoSuchChannel", Interval: time.Hour},
	)
	err := runUntil(t, c, func() bool {
		st := c.Stats()
		return st["reuters"].LastID == 7 && st["secret"].Failing && st["ghost"].Failing
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}

	items := rawItems(t, f.bus.JS)
	var ids []string
	for _, it := range items {
		ids = append(ids, it.NativeID)
	}
	if got, want := strings.Join(ids, " "), "reuters/1 reuters/3 reuters/5 reuters/7"; got != want {
		t.Fatalf("published %q, want %q", got, want)
	}
	first := items[0]
	if first.Kind != "telegram" || first.Source != "reuters" || first.URL != "https://t.me/reuters/1" || first.BodyFormat != wire.FormatMarkdown {
		t.Errorf("item 1 identity: %+v", first)
	}
	if want := "**Breaking**: quake hits 🇯🇵 Japan coast. [Details](https://example.com/quake?a=1&b=2)"; first.Body != want {
		t.Errorf("body\n got %q\nwant %q", first.Body, want)
	}
	if first.Published != "2024-06-01T10:01:00Z" || first.Updated != "2024-06-01T11:06:39Z" || first.Meta == nil || first.Meta.Views != 100 || first.Meta.EditedAt == "" {
		t.Errorf("times and stats: published %q updated %q meta %+v", first.Published, first.Updated, first.Meta)
	}
	if first.Author != "Reuters World" || first.SourceCode != "RTRS" || first.Fetch == nil || first.Fetch.URL != "tg://privatepost?channel=1001&post=1" {
		t.Errorf("author/code/fetch: %q %q %+v", first.Author, first.SourceCode, first.Fetch)
	}
	if fo := items[1].ForwardOf; fo == nil || fo.Kind != "telegram" || fo.Source != "originnews" || fo.NativeID != "originnews/88" || fo.URL != "https://t.me/originnews/88" {
		t.Errorf("forward origin: %+v", items[1].ForwardOf)
	}
	if rt := items[2].ReplyTo; rt == nil || rt.Source != "reuters" || rt.NativeID != "reuters/1" {
		t.Errorf("reply: %+v", items[2].ReplyTo)
	}
	if items[3].Body != "Will rates rise?\n- Yes\n- No" || items[3].Meta.MediaType != "poll" {
		t.Errorf("poll: %q %+v", items[3].Body, items[3].Meta)
	}

	st := state(t, f.kv, "reuters")
	if st.ChannelID != 1001 || st.AccessHash != 1001*31 || st.LastID != 7 || st.Title != "Reuters World" {
		t.Errorf("state: %+v", st)
	}
	if st.Gaps != 1 || st.Recovered != 1 {
		t.Errorf("gap counters: gaps %d recovered %d, want 1 and 1", st.Gaps, st.Recovered)
	}
	if got := f.w.getMsgReqs; len(got) != 1 || len(got[0]) != 2 || got[0][0] != 4 || got[0][1] != 5 {
		t.Errorf("missing ids fetched: %v, want [[4 5]]", got)
	}
	if s := c.Stats()["reuters"]; s.Published != 4 || s.Skipped != 1 {
		t.Errorf("stats: %+v", s)
	}
	if g := state(t, f.kv, "ghost"); !g.Failing || !strings.Contains(g.LastError, "USERNAME_NOT_OCCUPIED") || g.Errors != 1 {
		t.Errorf("ghost source state: %+v", g)
	}
	sec := state(t, f.kv, "secret")
	if !sec.Failing || !strings.Contains(sec.LastError, "CHANNEL_PRIVATE") {
		t.Errorf("secret source state: %+v", sec)
	}
}

func TestFloodWaitIsWaitedOut(t *testing.T) {
	f := newFixture(t)
	f.w.post(f.chn.ID, textMsg(f.chn.ID, 1, "first"), textMsg(f.chn.ID, 2, "second"))
	f.w.floodWaits = 1
	c := f.collector(t)
	start := time.Now()
	if err := runUntil(t, c, func() bool { return c.Stats()["reuters"].Published == 2 }); err != nil {
		t.Fatalf("run: %v", err)
	}
	n, waited := c.FloodWaits()
	if n != 1 || waited < time.Second || time.Since(start) < time.Second {
		t.Errorf("flood waits %d for %s (elapsed %s)", n, waited, time.Since(start))
	}
	if got := f.w.count("messages.getHistory"); got != 2 {
		t.Errorf("getHistory called %d times, want the refused call and its retry", got)
	}
	if st := state(t, f.kv, "reuters"); st.Errors != 0 {
		t.Errorf("a waited-out FLOOD_WAIT is not an error: %+v", st)
	}
}

func TestSessionRevokedStops(t *testing.T) {
	f := newFixture(t)
	f.w.post(f.chn.ID, textMsg(f.chn.ID, 1, "first"))
	f.w.historyErr = "AUTH_KEY_UNREGISTERED"
	c := f.collector(t)
	ctx := testCtx(t)
	err := c.Run(ctx)
	if !errors.Is(err, ErrSessionInvalid) {
		t.Fatalf("Run returned %v, want ErrSessionInvalid", err)
	}
	if !strings.Contains(err.Error(), "AUTH_KEY_UNREGISTERED") || strings.Count(err.Error(), "newswire telegram login") != 1 {
		t.Errorf("error is not one clear message: %v", err)
	}
	if got := f.w.count("messages.getHistory"); got != 1 {
		t.Errorf("getHistory called %d times; a revoked session must not be retried", got)
	}
}

func TestNoSessionFile(t *testing.T) {
	c, err := New(Config{AppID: 1, AppHash: "h", SessionFile: sessionPath(t), Channels: []Channel{{ID: "a", Username: "abcde"}}}, ingest.NewJetStreamPublisher(nil), nopStore{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(testCtx(t)); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("got %v, want ErrNotLoggedIn", err)
	}
}

type nopStore struct{}

func (nopStore) Get(context.Context, string) (jetstream.KeyValueEntry, error) {
	return nil, jetstream.ErrKeyNotFound
}
func (nopStore) Put(context.Context, string, []byte) (uint64, error) { return 0, nil }

func TestRestartResumesWithoutDuplicates(t *testing.T) {
	f := newFixture(t)
	ch := f.chn.ID
	f.w.post(ch, textMsg(ch, 1, "one"), textMsg(ch, 2, "two"), textMsg(ch, 3, "three"))
	c := f.collector(t)
	if err := runUntil(t, c, func() bool { return c.Stats()["reuters"].LastID == 3 }); err != nil {
		t.Fatal(err)
	}
	f.w.post(ch, textMsg(ch, 4, "four"), textMsg(ch, 5, "five"))
	f.w.mu.Lock()
	f.w.historyReqs = nil
	f.w.mu.Unlock()

	c2 := f.collector(t)
	if err := runUntil(t, c2, func() bool { return c2.Stats()["reuters"].LastID == 5 }); err != nil {
		t.Fatal(err)
	}
	f.w.mu.Lock()
	reqs := f.w.historyReqs
	f.w.mu.Unlock()
	if len(reqs) == 0 || reqs[0].MinID != 3 {
		t.Fatalf("restart asked history with %+v, want min_id 3", reqs)
	}
	if n := f.w.count("contacts.resolveUsername"); n != 1 {
		t.Errorf("resolved %d times; the peer must come from wire_source", n)
	}
	var ids []string
	for _, it := range rawItems(t, f.bus.JS) {
		ids = append(ids, it.NativeID)
	}
	if got := strings.Join(ids, " "); got != "reuters/1 reuters/2 reuters/3 reuters/4 reuters/5" {
		t.Errorf("stream holds %q", got)
	}
	if s := c2.Stats()["reuters"]; s.Duplicates != 0 || s.Published != 2 {
		t.Errorf("second run stats %+v", s)
	}
}
