package tgweb

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// tmeDir holds t.me/s pages as Telegram served them (see the README one
// folder up); expected.json there was written by expect.py, which reads
// the pages with Python's html.parser, not with this package.
var tmeDir = filepath.Join("..", "..", "testdata", "captures", "tme")

// tmeExpect is what expect.py read on one page.
type tmeExpect struct {
	File      string `json:"file"`
	Malformed int    `json:"malformed"`
	Posts     []struct {
		ID      int    `json:"id"`
		Channel string `json:"channel"`
		// PublishedAt is the <time datetime> in RFC 3339 UTC, "" where
		// the page left it empty.
		PublishedAt string `json:"published_at"`
		// Link is the post's own link (a.tgme_widget_message_date).
		Link string `json:"link"`
		// Text is the text block as a browser lays it out: source
		// whitespace collapsed, a line break only at <br>; nil for a
		// post without a text block (a poll, a video note).
		Text *string `json:"text"`
	} `json:"posts"`
}

// tmeCase is what is written here by hand from reading each page.
type tmeCase struct {
	channel string
	// skipped are posts with neither text nor poll, which are not published.
	skipped []int
	// headlines are three posts' headlines after normalization.
	headlines map[int]string
	// polls are posts whose text is a poll's question and answers.
	polls map[int]string
}

var tmeCases = map[string]tmeCase{
	"habr_com.html": {
		channel: "habr_com",
		headlines: map[int]string{
			56623: "Укрощение имён: как нейминг помогает оптимизировать код",
			56639: "Кто победит — средненагруженный Kubernetes или простой list-запрос?",
			// the page gives this post an empty datetime
			56641: "Людские пробки в метро у эскалаторов.",
		},
	},
	"antichristone.html": {
		channel: "antichristone",
		skipped: []int{506}, // a video note without caption
		headlines: map[int]string{
			486: "Wassup, начинаю стрим в Telegram",
			493: "Antichrist Blog | 反キリスト∸ブログ pinned «Wassup, в течении нескольких дней выходит патч на приложение!",
			500: "Какой вариант выбираете?",
		},
		// question and options as the page shows them, one "- option"
		// line each (PollText)
		polls: map[int]string{
			500: "Какой вариант выбираете?\n- 1: завтра, но 150+ сервисов\n- 2: сегодня, но 50 сервисов",
			517: "На какую тему делать стрим?\n- Взлом аккаунтов с обходом 2FA.\n- Прохождение CTF (полезно при поступлении на работу)\n- Разбор OWASP TOP 10 = важно, если хотите продвинуться в пентестенге.\n- Мой вариант, сейчас напишу в комментах",
		},
	},
	"prg_memes.html": {
		channel: "prg_memes",
		headlines: map[int]string{
			8588: "IT Memes",
			8591: "Когда ты уже больше 5 лет в разработке, но правильно работающий цикл while всё ещё тебя удивляет:",
			8604: "Я скинул вам инструкцию на почту, все предельно просто и расписано по шагам.",
		},
	},
}

// TestCapturedPages polls each captured page through the collector (HTTP
// from an httptest t.me, parse, publish on a real JetStream) and
// normalizes every published post with the real normalizer.
func TestCapturedPages(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(tmeDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pages []tmeExpect
	if err := json.Unmarshal(data, &pages); err != nil {
		t.Fatalf("expected.json: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(tmeDir, "*.html"))
	if len(files) != len(pages) || len(pages) != len(tmeCases) || len(pages) < 3 {
		t.Fatalf("%d pages, %d read by expect.py, %d cases: every page needs both", len(files), len(pages), len(tmeCases))
	}

	served := map[string]string{} // "/s/<channel>" → file
	var chans []Channel
	for _, p := range pages {
		c, ok := tmeCases[p.File]
		if !ok {
			t.Fatalf("no case for %s", p.File)
		}
		served["/s/"+c.channel] = p.File
		chans = append(chans, Channel{ID: "cap-" + c.channel, Username: c.channel})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := served[r.URL.Path]
		if !ok || r.URL.RawQuery != "" {
			http.NotFound(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join(tmeDir, name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	for i := range chans {
		chans[i].BaseURL = srv.URL
	}
	b := bustest.Start(t)
	kv, err := b.JS.KeyValue(ctxT(t), bus.BucketSource)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	c, err := New(Config{Channels: chans, HostInterval: time.Millisecond, Now: func() time.Time { return t0 }},
		ingest.NewJetStreamPublisher(b.JS), kv, srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range c.cfg.Channels {
		if err := c.Poll(ctxT(t), ch); err != nil {
			t.Fatalf("%s: %v", ch.ID, err)
		}
	}
	bySource := map[string][]wire.RawItem{}
	for _, it := range (&env{bus: b}).items(t) {
		bySource[it.Source] = append(bySource[it.Source], it)
	}
	ncfg := normalize.DefaultConfig()

	for _, p := range pages {
		tc := tmeCases[p.File]
		t.Run(p.File, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(tmeDir, p.File))
			if err != nil {
				t.Fatal(err)
			}
			page, err := ParsePage(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Posts) != len(p.Posts) || page.Malformed != p.Malformed {
				t.Errorf("parsed %d posts and %d unreadable blocks, want %d and %d", len(page.Posts), page.Malformed, len(p.Posts), p.Malformed)
			}

			src := "cap-" + tc.channel
			st := c.Stats()[src]
			want := len(p.Posts) - len(tc.skipped)
			if st.Published != int64(want) || st.Skipped != int64(len(tc.skipped)) || st.Malformed != int64(p.Malformed) {
				t.Errorf("stats %+v; want %d published, %d skipped, %d malformed", st, want, len(tc.skipped), p.Malformed)
			}
			items := map[string]wire.RawItem{}
			for _, it := range bySource[src] {
				items[it.NativeID] = it
			}
			if len(items) != want {
				t.Fatalf("%d posts on the bus, want %d", len(items), want)
			}
			headlines := map[int]string{}
			for _, post := range p.Posts {
				nid := NativeID(post.Channel, post.ID)
				it, ok := items[nid]
				if slices.Contains(tc.skipped, post.ID) {
					if ok {
						t.Errorf("%s: a post without text was published: %q", nid, it.Body)
					}
					continue
				}
				if !ok {
					t.Errorf("%s: not published", nid)
					continue
				}
				if it.URL != post.Link {
					t.Errorf("%s: url %q, the page links the post as %q", nid, it.URL, post.Link)
				}
				e, err := normalize.Normalize(ncfg, it, provenance.RawRef{Stream: bus.StreamRaw, Seq: 1})
				if err != nil {
					t.Errorf("%s: normalize: %v", nid, err)
					continue
				}
				headlines[post.ID] = e.Headline
				wantTime, wantFlag := post.PublishedAt, ""
				if wantTime == "" {
					wantTime, wantFlag = t0.Format(time.RFC3339), normalize.FlagNoTime
				}
				if got := e.PublishedAt.UTC().Format(time.RFC3339); got != wantTime || (wantFlag != "" && !slices.Contains(e.Flags, wantFlag)) {
					t.Errorf("%s: published_at %s flags %v, want %s %s (raw %q)", nid, got, e.Flags, wantTime, wantFlag, it.Published)
				}
				wantText := ""
				switch {
				case post.Text != nil:
					// The normalizer drops zero-width spaces (t.me puts one in
					// the link to a post's preview picture) and writes
					// no-break spaces as spaces; nothing else differs.
					wantText = strings.NewReplacer("\u200b", "", "\u00a0", " ").Replace(*post.Text)
				case tc.polls[post.ID] != "":
					wantText = tc.polls[post.ID]
				default:
					t.Errorf("%s: published %q, but the page shows it with neither text nor poll", nid, it.Body)
					continue
				}
				// The page's text as a browser shows it: a line break only
				// where the page has <br>, never where t.me wrapped its
				// source, and no <br> lost.
				if e.Text != wantText {
					t.Errorf("%s: text is not laid out as the page shows it\n got %q\nwant %q\n raw %q", nid, e.Text, wantText, it.Body)
				}
			}
			for id, want := range tc.headlines {
				if got := headlines[id]; got != want {
					t.Errorf("%d headline\n got %q\nwant %q", id, got, want)
				}
			}
		})
	}
}

// TestCapturedPagesLayout is the layout rule alone on the captures: no
// post text keeps a line break that is not a <br> of the page.
func TestCapturedPagesLayout(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(tmeDir, "*.html"))
	if len(files) < 3 {
		t.Fatalf("%d captured pages", len(files))
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		page, err := ParsePage(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Posts {
			if strings.Contains(p.Text, "\n ") || strings.Contains(p.Text, " \n") || strings.Contains(p.Text, "  ") {
				t.Errorf("%s %d: source whitespace kept: %q", filepath.Base(f), p.ID, p.Text)
			}
		}
	}
}
