package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/mastodon"
	"github.com/newswire/newswire/ingest/x"
	"github.com/newswire/newswire/provenance"
)

// repostCase is one platform's post and another account's repost of it,
// served by an httptest server in the platform's wire format and read by
// the platform's real collector.
type repostCase struct {
	name string
	// handler serves both accounts' timelines.
	handler func(t *testing.T) http.Handler
	// collector builds the collector for the server at base.
	collector func(t *testing.T, base string, pub ingest.Publisher, kv jetstream.KeyValue) interface{ Run(context.Context) error }
	// The original's and the repost's source ids, codes and links.
	originSource, originCode, originURL string
	repostSource, repostURL             string
}

// TestRepostJoinsItsOriginalsStory: an account's post and another
// account's retweet (boost) of it, each read from its own account's
// timeline by the real collector, go through the real normalizer and
// synthesizer and end up in one story on WIRE_STORY whose first report and
// origin is the original, with the repost in the provenance list as a
// repost of it.
func TestRepostJoinsItsOriginalsStory(t *testing.T) {
	for _, tc := range []repostCase{
		{
			name:    "x retweet",
			handler: xTimelines,
			collector: func(t *testing.T, base string, pub ingest.Publisher, kv jetstream.KeyValue) interface{ Run(context.Context) error } {
				// The original's source comes first: Run starts each
				// source's first poll a second after the one before.
				c, err := x.New(x.Config{Sources: []x.Source{
					{ID: "tagesschau", Code: "TAGESSCHAU", Username: "tagesschau", UserID: "5734902"},
					{ID: "rolf", Code: "ROLF", Username: "666_rolf", UserID: "768817790413340672"},
				}, BearerToken: "AAAA-test-token", BaseURL: base}, pub, kv, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
			originSource: "tagesschau", originCode: "TAGESSCHAU",
			originURL:    "https://x.com/tagesschau/status/1440714938054418436",
			repostSource: "rolf", repostURL: "https://x.com/666_rolf/status/1440715564863791107",
		},
		{
			name:    "mastodon boost",
			handler: mastodonTimelines,
			collector: func(t *testing.T, base string, pub ingest.Publisher, kv jetstream.KeyValue) interface{ Run(context.Context) error } {
				// Re-checks are off: they would ask for each status again.
				c, err := mastodon.New(mastodon.Config{Sources: []mastodon.Source{
					{ID: "test2", Code: "MPYT2", Instance: base, Account: "mastodonpy_test_2", Recheck: -1},
					{ID: "admin", Code: "ADMIN", Instance: base, Account: "admin", Recheck: -1},
				}}, pub, kv, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				return c
			},
			originSource: "test2", originCode: "MPYT2",
			// The recorded instance's own links (localhost:3000), as captured.
			originURL:    "http://localhost:3000/@mastodonpy_test_2/117020569685834492",
			repostSource: "admin", repostURL: "http://localhost:3000/@admin/117020569768720055",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(tc.handler(t))
			defer hs.Close()
			srv := bustest.Start(t)
			pipeline(t, srv)
			kv, err := srv.JS.KeyValue(context.Background(), bus.BucketSource)
			if err != nil {
				t.Fatal(err)
			}
			coll := tc.collector(t, hs.URL, ingest.NewJetStreamPublisher(srv.JS), kv)
			defer runCollector(t, coll.Run)()

			story := storyOfSize(t, srv.JS, 2, "a story with the post and its repost")
			if got := streamMsgs(t, srv.JS, bus.StreamEntry); got != 2 {
				t.Fatalf("entries = %d, want 2", got)
			}
			p := story.Provenance
			orig, rp := p[0], p[1]
			if orig.Source.ID != tc.originSource || orig.URL != tc.originURL || orig.Role != provenance.RoleOrigin || orig.Of != "" {
				t.Errorf("first record is not the original as origin: %+v", orig)
			}
			if rp.Source.ID != tc.repostSource || rp.URL != tc.repostURL || rp.Role != provenance.RoleRepost || rp.Of != orig.EntryID {
				t.Errorf("second record is not a repost of the original (%s): %+v", orig.EntryID, rp)
			}
			if !orig.PublishedAt.Before(rp.PublishedAt) {
				t.Errorf("original published %v, repost %v", orig.PublishedAt, rp.PublishedAt)
			}
			fr := story.FirstReport
			if fr.EntryID != orig.EntryID || fr.Source != tc.originCode || fr.URL != tc.originURL {
				t.Errorf("first report %+v, want the original %s", fr, orig.EntryID)
			}
			// A repost is not a second voice: two entries of two sources,
			// one independent origin.
			if c := story.Counts; c.Entries != 2 || c.Sources != 2 || c.Origins != 1 {
				t.Errorf("counts %+v", c)
			}
			// The repost opened no story of its own.
			for id, st := range latestStories(t, srv.JS) {
				if id == story.ID || st.MergedInto == story.ID {
					continue
				}
				for _, r := range st.Provenance {
					if r.EntryID == orig.EntryID || r.EntryID == rp.EntryID {
						t.Errorf("story %s also holds %s (%s)", id, r.EntryID, r.Role)
					}
				}
			}
		})
	}
}

// tweetPage is the part of a captured X API v2 page these tests take
// objects from, each object kept as its captured bytes.
type tweetPage struct {
	Data     []json.RawMessage `json:"data"`
	Includes struct {
		Users  []json.RawMessage `json:"users"`
		Tweets []json.RawMessage `json:"tweets"`
	} `json:"includes"`
}

func pick(t *testing.T, objs []json.RawMessage, id string) json.RawMessage {
	t.Helper()
	for _, o := range objs {
		var v struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(o, &v) == nil && v.ID == id {
			return o
		}
	}
	t.Fatalf("no object %s in the capture", id)
	return nil
}

// xTimelines serves the user timelines of @tagesschau and @666_rolf.
// No captured user-timeline pair of a post and another account's retweet
// of it exists (see ingest/x/testdata/README.md), so both pages are built
// here in the shape of GET /2/users/:id/tweets with expansions — data,
// includes.users, includes.tweets, meta — from the captured objects of
// one real recent-search page, search_recent_brexit.json, byte for byte:
// @tagesschau's post 1440714938054418436 and @666_rolf's retweet of it,
// 1440715564863791107, with both users and the retweet's included
// original as X returned them.
func xTimelines(t *testing.T) http.Handler {
	data, err := os.ReadFile(filepath.Join("..", "ingest", "x", "testdata", "search_recent_brexit.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cap tweetPage
	if err := json.Unmarshal(data, &cap); err != nil {
		t.Fatal(err)
	}
	const origID, rtID = "1440714938054418436", "1440715564863791107"
	tagesschau, rolf := pick(t, cap.Includes.Users, "5734902"), pick(t, cap.Includes.Users, "768817790413340672")
	page := func(post json.RawMessage, users, tweets []json.RawMessage, id string) []byte {
		var p struct {
			Data     []json.RawMessage `json:"data"`
			Includes struct {
				Users  []json.RawMessage `json:"users"`
				Tweets []json.RawMessage `json:"tweets,omitempty"`
			} `json:"includes"`
			Meta map[string]any `json:"meta"`
		}
		p.Data, p.Includes.Users, p.Includes.Tweets = []json.RawMessage{post}, users, tweets
		p.Meta = map[string]any{"result_count": 1, "newest_id": id, "oldest_id": id}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pages := map[string][]byte{
		"/2/users/5734902/tweets":            page(pick(t, cap.Data, origID), []json.RawMessage{tagesschau}, nil, origID),
		"/2/users/768817790413340672/tweets": page(pick(t, cap.Data, rtID), []json.RawMessage{rolf, tagesschau}, []json.RawMessage{pick(t, cap.Includes.Tweets, origID)}, rtID),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title":"Not Found Error","type":"about:blank","status":404}`)
			return
		}
		if r.URL.Query().Get("since_id") != "" {
			// Nothing newer than the one post: X answers without data.
			body = []byte(`{"meta":{"result_count":0}}`)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	})
}

// mastodonTimelines serves the accounts of the Mastodon.py test instance:
// @mastodonpy_test_2's status and @admin's boost of it, both captured
// (ingest/mastodon/testdata), each as a one-status page of its account's
// statuses. The account lookups answer with the account object each
// captured status embeds — the same Account entity the lookup returns.
func mastodonTimelines(t *testing.T) http.Handler {
	statuses := map[string][]byte{}
	lookups := map[string][]byte{}
	for _, f := range []string{"status_mastodonpy_test_2.json", "status_reblog_by_admin.json"} {
		data, err := os.ReadFile(filepath.Join("..", "ingest", "mastodon", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Account json.RawMessage `json:"account"`
		}
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		var a struct {
			ID   string `json:"id"`
			Acct string `json:"acct"`
		}
		if err := json.Unmarshal(s.Account, &a); err != nil {
			t.Fatal(err)
		}
		statuses["/api/v1/accounts/"+a.ID+"/statuses"] = append(append([]byte("["), data...), ']')
		lookups[a.Acct] = s.Account
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		body, ok := statuses[r.URL.Path]
		if r.URL.Path == "/api/v1/accounts/lookup" {
			body, ok = lookups[r.URL.Query().Get("acct")]
		}
		switch {
		case !ok:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"Record not found"}`)
		case r.URL.Query().Get("since_id") != "" || r.URL.Query().Get("max_id") != "":
			fmt.Fprint(w, `[]`)
		default:
			_, _ = w.Write(body)
		}
	})
}
