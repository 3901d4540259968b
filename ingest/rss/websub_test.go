package rss

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/egress"
)

// testHub is a WebSub hub speaking the protocol over HTTP: it accepts a
// subscription, verifies the intent at the callback, then delivers
// content signed with the subscriber's secret, and one forged delivery.
type testHub struct {
	t       *testing.T
	content []byte
	wg      sync.WaitGroup
	mu      sync.Mutex
	form    url.Values
	echoed  bool
}

func (h *testHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("hub.mode") != "subscribe" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.form = r.PostForm
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	h.wg.Go(func() { h.verifyAndDeliver(r.PostForm) })
}

func (h *testHub) verifyAndDeliver(form url.Values) {
	cb := form.Get("hub.callback")
	q := url.Values{"hub.mode": {"subscribe"}, "hub.topic": {form.Get("hub.topic")}, "hub.challenge": {"c-12345"}, "hub.lease_seconds": {"86400"}}
	resp, err := http.Get(cb + "?" + q.Encode())
	if err != nil {
		h.t.Errorf("verify: %v", err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	h.mu.Lock()
	h.echoed = resp.StatusCode == 200 && string(body) == "c-12345"
	h.mu.Unlock()
	// A forged delivery first, then the real one.
	deliver := func(sig string) {
		req, _ := http.NewRequest(http.MethodPost, cb, strings.NewReader(string(h.content)))
		req.Header.Set("Content-Type", "application/atom+xml")
		req.Header.Set("X-Hub-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.t.Errorf("deliver: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			h.t.Errorf("delivery answered %d", resp.StatusCode)
		}
	}
	deliver("sha256=" + strings.Repeat("00", 32))
	m := hmac.New(sha256.New, []byte(form.Get("hub.secret")))
	m.Write(h.content)
	deliver("sha256=" + hex.EncodeToString(m.Sum(nil)))
}

func TestWebSub(t *testing.T) {
	hub := &testHub{t: t}
	hubSrv := httptest.NewServer(hub)
	defer hubSrv.Close()
	atom := strings.ReplaceAll(string(readTestdata(t, "atom.xml")), "https://hub.example.org/", hubSrv.URL+"/")
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		io.WriteString(w, atom)
	}))
	defer feedSrv.Close()
	var handler http.Handler
	cbSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer cbSrv.Close()
	defer hub.wg.Wait()
	// The pushed document carries one entry the feed did not have yet.
	hub.content = []byte(strings.Replace(atom, "<entry>", `<entry><title>Pushed: dernière minute</title><id>tag:fr.example.org,2024:pushed</id><link rel="alternate" href="https://fr.example.org/2024/06/pushed"/><updated>2024-06-11T10:30:00+02:00</updated><summary>Urgent.</summary></entry><entry>`, 1))

	r := newRig(t, Config{
		Feeds:  []Feed{{ID: "fr-news", URL: feedSrv.URL + "/atom.xml"}},
		WebSub: WebSubConfig{CallbackURL: cbSrv.URL + "/websub", Lease: 48 * time.Hour, SecretKey: testWebSubKey, MaxBody: 64 << 10},
	})
	handler = r.c.WebSubHandler()
	r.pollFeed(0)
	waitFor(t, "the pushed entry", func() bool { st := r.c.Stats(); return st.Pushes == 1 && st.PushRejected == 1 })
	settle := func() {
		r.c.websub.wg.Wait()
		hub.wg.Wait()
	}
	settle()

	hub.mu.Lock()
	form, echoed := hub.form, hub.echoed
	hub.mu.Unlock()
	if !echoed {
		t.Fatal("the callback did not echo the hub's challenge")
	}
	if form.Get("hub.topic") != "https://fr.example.org/atom.xml" || form.Get("hub.callback") != cbSrv.URL+"/websub/fr-news" || form.Get("hub.lease_seconds") != "172800" || len(form.Get("hub.secret")) != 64 {
		t.Fatalf("subscription request %v", form)
	}
	// The secret the hub signs with is not in the readable state, only
	// the nonce it is derived from.
	kv, err := r.srv.JS.KeyValue(t.Context(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(t.Context(), StateKey("fr-news"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(entry.Value()), form.Get("hub.secret")) || !strings.Contains(string(entry.Value()), `"secret_nonce"`) {
		t.Fatalf("stored state holds the secret or no nonce: %s", entry.Value())
	}

	// Unsigned, badly signed and oversized deliveries are refused and
	// counted; the unsigned one before its body is read.
	rejected := r.c.Stats().PushRejected
	for _, d := range []struct {
		sig    string
		body   io.Reader
		status int
	}{
		{"", &endless{}, http.StatusAccepted},
		{"sha256=zz", &endless{}, http.StatusAccepted},
		{"sha256=" + strings.Repeat("ab", 31), &endless{}, http.StatusAccepted},
		{"md5=" + strings.Repeat("ab", 16), &endless{}, http.StatusAccepted},
		{"sha256=" + strings.Repeat("ab", 32), io.LimitReader(&endless{}, 65<<10), http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequest(http.MethodPost, cbSrv.URL+"/websub/fr-news", d.body)
		if d.sig != "" {
			req.Header.Set("X-Hub-Signature", d.sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("delivery signed %q: %v", d.sig, err)
		}
		resp.Body.Close()
		if resp.StatusCode != d.status {
			t.Fatalf("delivery signed %q answered %d, want %d", d.sig, resp.StatusCode, d.status)
		}
	}
	if got := r.c.Stats().PushRejected - rejected; got != 5 {
		t.Fatalf("%d bad deliveries counted, want 5", got)
	}

	items, _ := rawItems(t, r.srv.JS)
	if len(items) != 3 || items[2].Title != "Pushed: dernière minute" {
		t.Fatalf("bus holds %d items, last %+v", len(items), items[len(items)-1])
	}
	st := r.state(0)
	if st.WebSub == nil || !st.WebSub.Verified || !st.WebSub.LeaseUntil.Equal(t0.Add(24*time.Hour)) || st.WebSub.Pushes != 1 {
		t.Fatalf("websub state %+v", st.WebSub)
	}

	// A poll within the lease does not subscribe again; one near its end renews.
	r.clock.Advance(2 * time.Hour)
	r.pollFeed(0)
	settle()
	if st := r.c.Stats(); st.Pushes != 1 {
		t.Fatalf("resubscribed within the lease: %+v", st)
	}
	r.clock.Advance(17 * time.Hour) // 19h into a 24h lease: inside the last quarter
	r.pollFeed(0)
	waitFor(t, "the renewed subscription's delivery", func() bool { return r.c.Stats().Pushes == 2 })
	settle()
	if st := r.c.Stats(); st.Pushes != 2 || st.Published != 3 {
		t.Fatalf("lease not renewed, or a push re-published: %+v", st)
	}

	// Unknown callbacks are told to go away.
	resp, err := http.Post(cbSrv.URL+"/websub/nobody", "application/atom+xml", strings.NewReader(atom))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("unknown callback answered %d", resp.StatusCode)
	}

	// A verification nobody asked for (long after the last request) is
	// refused, however long a lease it offers.
	r.clock.Advance(2 * time.Hour)
	forged := cbSrv.URL + "/websub/fr-news?hub.mode=subscribe&hub.topic=" + url.QueryEscape("https://fr.example.org/atom.xml") +
		"&hub.challenge=x&hub.lease_seconds=999999999"
	resp, err = http.Get(forged)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("forged verification answered %d", resp.StatusCode)
	}
}

// testWebSubKey derives the test subscriptions' secrets.
var testWebSubKey = []byte("0123456789abcdef0123456789abcdef")

// endless is a body that never ends: a delivery read before its signature
// is checked would hang the test.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// TestWebSubHubOnPrivateAddress: a feed that names a hub in the local
// network gets no subscription request there; the refusal is counted and
// kept in the feed's state, and polling goes on.
func TestWebSubHubOnPrivateAddress(t *testing.T) {
	atom := strings.ReplaceAll(string(readTestdata(t, "atom.xml")), "https://hub.example.org/", "http://127.0.0.2:9/hub")
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		io.WriteString(w, atom)
	}))
	defer feedSrv.Close()
	r := newRig(t, Config{
		Feeds:  []Feed{{ID: "fr-news", URL: feedSrv.URL + "/atom.xml"}},
		WebSub: WebSubConfig{CallbackURL: "https://wire.example.org/websub", SecretKey: testWebSubKey},
		Egress: egress.MustNew("127.0.0.1/32"),
	})
	r.pollFeed(0)
	r.c.websub.wg.Wait()
	st := r.state(0)
	if st.Errors != 0 || st.WebSub == nil || !strings.Contains(st.WebSub.Error, "egress: address refused: 127.0.0.2:9 is a loopback address") {
		t.Fatalf("state after a refused hub: errors %d, websub %+v", st.Errors, st.WebSub)
	}
	if s := r.c.Stats(); s.Refused != 1 || s.Published != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestWebSubNeedsKey(t *testing.T) {
	srv := bustest.Start(t)
	kv, err := srv.JS.KeyValue(t.Context(), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{Feeds: []Feed{{ID: "f", URL: "https://example.org/f"}}, WebSub: WebSubConfig{CallbackURL: "https://wire.example.org/websub"}},
		ingest.NewJetStreamPublisher(srv.JS), kv, nil)
	if !errors.Is(err, ErrWebSubKey) {
		t.Fatalf("websub without a key: %v", err)
	}
}

func TestLinkHeader(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<https://hub.example.org/>; rel="hub", <https://example.org/feed>; rel="self"`)
	if got := linkHeader(h, "hub"); got != "https://hub.example.org/" {
		t.Fatalf("hub %q", got)
	}
	if got := linkHeader(h, "self"); got != "https://example.org/feed" {
		t.Fatalf("self %q", got)
	}
	if got := linkHeader(h, "next"); got != "" {
		t.Fatalf("next %q", got)
	}
}
