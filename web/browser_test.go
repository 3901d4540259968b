package web

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// browser starts headless Chromium for one test. It skips only when no
// Chromium is installed (CI installs Debian's chromium, see .ci/run).
func browser(t *testing.T) context.Context {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no Chromium binary found (chromium, chromium-browser, google-chrome or headless-shell on PATH); install it with: apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// A bound on the whole browser session, so a broken page fails the
	// test instead of hanging it; every wait inside is on a condition.
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx
}

// screenshotDir is NEWSWIRE_SCREENSHOTS when set, else the test's temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("NEWSWIRE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// screenshot writes the whole page as dir/name, and the window's view of
// it as dir/view-name (what a reader sees first; the README shows two).
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if view, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "view-"+name), view, 0o644)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("screenshot: %s", p)
}

func TestBrowserPages(t *testing.T) {
	ctx := browser(t)
	f := realDataFixture(t)
	shots := screenshotDir(t)
	big := f.biggest()

	t.Run("live wire shows an entry published after load", func(t *testing.T) {
		before := subscribers(f.store)
		if err := chromedp.Do(ctx, chromedp.Navigate(f.hs.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#wire li"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the page's event stream", func() bool { return subscribers(f.store) > before })
		at := time.Now().UTC()
		e := wire.Entry{Schema: wire.SchemaEntry, ID: "elive0001", Source: provenance.Source{ID: "afp", Kind: "rss", Code: "AFP"},
			URL: "https://afp.example/live", Headline: "Live entry published after the page loaded", PublishedAt: at, ObservedAt: at}
		publishJSON(t, f.srv, bus.EntrySubject("rss", "afp"), e)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#wire li') && document.querySelector('#wire li').textContent.includes('Live entry published after the page loaded')`)); err != nil {
			t.Fatal(err)
		}
		first, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS("#wire li")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(first, "AFP") {
			t.Errorf("live line %q has no source code", first)
		}
		screenshot(t, ctx, shots, "live-wire-1280.png")
	})

	t.Run("citations land on their provenance item", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(f.hs.URL+"/stories/"+big.ID), chromedp.WaitVisible(chromedp.CSS("sup a"))); err != nil {
			t.Fatal(err)
		}
		cites, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`Array.from(document.querySelectorAll('sup a')).map(a => ({href: a.getAttribute('href'), title: a.title}))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(cites) == 0 {
			t.Fatal("no citation links")
		}
		for i, c := range cites {
			if i >= 5 {
				break
			}
			type landing struct {
				Hash    string `json:"hash"`
				Entry   string `json:"entry"`
				Visible bool   `json:"visible"`
			}
			sel := chromedp.CSS(`sup a[href="` + c["href"] + `"]`)
			if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
				t.Fatal(err)
			}
			// The browser scrolls to the target (to a fraction of a pixel)
			// after the hash changes: wait for both (a link that goes nowhere ends at the session's bound).
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`location.hash === `+jsString(c["href"])+
				` && document.querySelector(':target') !== null && document.querySelector(':target').getBoundingClientRect().top > -2 && document.querySelector(':target').getBoundingClientRect().top < innerHeight`)); err != nil {
				t.Fatalf("citation %s: %v", c["href"], err)
			}
			target, err := chromedp.Run(ctx, chromedp.Evaluate[landing](`(() => { const el = document.querySelector(':target'); if (!el) return {hash: location.hash};
					const r = el.getBoundingClientRect();
					return {hash: location.hash, entry: el.dataset.entry, visible: r.top > -2 && r.top < innerHeight}; })()`))
			if err != nil {
				t.Fatal(err)
			}
			// The link's title names the cited entry: "provenance item 3 (e…)".
			if target.Hash != c["href"] || target.Entry == "" || !strings.Contains(c["title"], "("+target.Entry+")") || !target.Visible {
				t.Errorf("citation %s (%s) landed on %+v", c["href"], c["title"], target)
			}
		}
		ld, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const s = document.querySelector('script[type="application/ld+json"]'); const d = JSON.parse(s.textContent); return d['@type'] + ' ' + d.isBasedOn.length; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ld, "NewsArticle ") || ld == "NewsArticle 0" {
			t.Errorf("JSON-LD: %s", ld)
		}
		screenshot(t, ctx, shots, "story-1280.png")
	})

	t.Run("no page overflows sideways at 390px", func(t *testing.T) {
		for _, page := range []string{"/", "/stories", "/stories/" + big.ID} {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(f.hs.URL+page), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
				t.Fatal(err)
			}
			widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
			if err != nil {
				t.Fatal(err)
			}
			if len(widths) != 2 || widths[0] > widths[1] {
				t.Errorf("%s at 390px: content %d px wide in a %d px window", page, widths[0], widths[1])
			}
			name := strings.Trim(strings.ReplaceAll(page, "/", "-"), "-")
			if name == "" {
				name = "wire"
			}
			if strings.HasPrefix(name, "stories-") {
				name = "story"
			}
			screenshot(t, ctx, shots, name+"-390.png")
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a title holding script renders as text", func(t *testing.T) {
		const evil = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Evil`
		before := subscribers(f.store)
		if err := chromedp.Do(ctx, chromedp.Navigate(f.hs.URL+"/"), chromedp.WaitReady(chromedp.CSS("#wire"))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the page's event stream", func() bool { return subscribers(f.store) > before })
		at := time.Now().UTC()
		publishJSON(t, f.srv, bus.EntrySubject("rss", "evil"), wire.Entry{Schema: wire.SchemaEntry, ID: "eevil0001",
			Source: provenance.Source{ID: "evil", Kind: "rss", Code: "EVIL"}, Headline: evil, PublishedAt: at, ObservedAt: at})
		check := func(how string) {
			type line struct {
				Text   string `json:"text"`
				Pwned  bool   `json:"pwned"`
				Images int    `json:"images"`
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Array.from(document.querySelectorAll('#wire li')).some(li => li.textContent.includes('Evil'))`)); err != nil {
				t.Fatal(err)
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[line](`(() => { const li = Array.from(document.querySelectorAll('#wire li')).find(li => li.textContent.includes('Evil'));
					return {text: li.textContent, pwned: window.__pwned !== undefined, images: li.querySelectorAll('img,script').length}; })()`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Text, "<script>window.__pwned=1</script>") || got.Pwned || got.Images != 0 {
				t.Errorf("%s: %+v", how, got)
			}
		}
		check("live")
		waitFor(t, "the store to hold the entry", func() bool { return len(f.store.Entries(1)) == 1 && f.store.Entries(1)[0].ID == "eevil0001" })
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		check("server-rendered")
	})
}

// jsString quotes s as a JavaScript string literal (hrefs here are "#p<n>").
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// bigStoryRows are the bundled UCI rows of the aggregator's largest
// story (322 headlines), which the clusterer makes a story of about 300
// entries: the page a reader meets for the biggest news.
func bigStoryRows(t *testing.T) []replay.Item {
	t.Helper()
	var out []replay.Item
	for _, it := range replayRows(t, "uci-news-2014-03.jsonl", 1<<20) {
		if it.Label == "dHmpog6unxaYYaMzYMEdbkeDeB9iM" {
			out = append(out, it)
		}
	}
	return out
}

// A story of about 300 entries gives a page a reader can scroll: the
// provenance list, trail and claims fold their long tails into
// <details>, and a citation into a folded part still lands on its item.
func TestBrowserBigStoryPageIsShort(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t, bigStoryRows(t), Config{})
	big := f.biggest()
	if big.Counts.Entries < 250 {
		t.Fatalf("the biggest story has %d entries; the test needs one of about 300", big.Counts.Entries)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(f.hs.URL+"/stories/"+big.ID), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollHeight`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("story %s of %d entries: page %d px tall at 1280 px", big.ID, big.Counts.Entries, height)
	screenshot(t, ctx, screenshotDir(t), "big-story-1280.png")
	const most = 6000
	if height > most {
		t.Errorf("the page of a %d-entry story is %d px tall at 1280 px; want at most %d", big.Counts.Entries, height, most)
	}
	items, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('.wire-provenance li').length, document.querySelectorAll('.wire-provenance details li').length]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0] != len(big.Provenance) || items[1] == 0 {
		t.Errorf("provenance items on the page (all, folded): %v; want all %d, some folded", items, len(big.Provenance))
	}

	// A link to a folded item (the trail's and the brief's link to any
	// item) opens its fold and lands on it.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = Array.from(document.querySelectorAll('a[href^="#p"]')).find(a => {
			const el = document.getElementById(a.getAttribute('href').slice(1)); return el && el.closest('details') && !el.closest('details').open; });
		return a ? a.getAttribute('href') : ''; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if href == "" {
		t.Fatal("no link on the page leads into a folded part of the provenance list")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="`+href+`"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`location.hash === `+jsString(href)+` && document.querySelector(':target') !== null &&
		document.querySelector(':target').closest('details').open && document.querySelector(':target').getBoundingClientRect().height > 0 &&
		document.querySelector(':target').getBoundingClientRect().top > -2 && document.querySelector(':target').getBoundingClientRect().top < innerHeight`)); err != nil {
		t.Fatalf("the link %s into a fold: %v", href, err)
	}
}
