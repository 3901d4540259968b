package synth

import (
	"slices"
	"strings"
	"testing"

	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/wire"
)

// TestStoryLanguagesByPrimarySubtag: entries keep their BCP 47 tags, but a
// story lists each language once, by its primary subtag.
func TestStoryLanguagesByPrimarySubtag(t *testing.T) {
	c := newTestClusterer(t)
	background(c)
	h := "Earthquake of magnitude 6.1 strikes off the coast of northern Chile"
	var ids []string
	for i, tag := range []string{"en-GB", "en-US", "de-DE", "en"} {
		e := entry("e"+tag, "src"+tag, h, h, i)
		e.Lang = tag
		ids = append(ids, c.Add(e))
	}
	if ids[0] == "" || slices.ContainsFunc(ids, func(id string) bool { return id != ids[0] }) {
		t.Fatalf("identical reports went to stories %v", ids)
	}
	st, ok := c.Snapshot(ids[0])
	if !ok {
		t.Fatal("no snapshot")
	}
	if want := []string{"de", "en"}; !slices.Equal(st.Languages, want) {
		t.Errorf("story languages %v, want %v", st.Languages, want)
	}
}

// TestProvenanceKeepsPublishedURL: a record shows the link the source
// published beside the canonical one, and only when they differ.
func TestProvenanceKeepsPublishedURL(t *testing.T) {
	c := newTestClusterer(t)
	e := entry("e1", "src", "Flood warning for the river valley", "Flood warning for the river valley", 0)
	e.OriginalURL = "https://www.src.example/e1?utm_source=rss"
	same := entry("e2", "src2", e.Headline, e.Text, 1)
	same.OriginalURL = same.URL
	id := c.Add(e)
	c.Add(same)
	st, ok := c.Snapshot(id)
	if !ok {
		t.Fatal("no snapshot")
	}
	got := map[string]string{}
	for _, r := range st.Provenance {
		got[r.EntryID] = r.PublishedURL
	}
	if got["e1"] != e.OriginalURL {
		t.Errorf("e1 published_url %q, want %q", got["e1"], e.OriginalURL)
	}
	if p, ok := got["e2"]; !ok || p != "" {
		t.Errorf("e2 published_url %q (in story %v), want none", p, ok)
	}
}

// TestCutHeadlineWordsCountOnce: a post without a title gets its first
// sentence as headline, cut at a word with "…" when long (normalize's
// Headline). The body goes on after the cut, so each word counts once:
// the vector is the same as with the headline's part taken off the text.
// The posts are real (the bundled Telegram sample).
func TestCutHeadlineWordsCountOnce(t *testing.T) {
	items, err := replay.ReadFile("../testdata/replay/telegram-ru-news-sample.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClusterer(t)
	cut := 0
	for _, it := range items {
		text := strings.TrimSpace(it.Text)
		h := normalize.Headline(text, 110)
		part := strings.TrimSuffix(h, "…")
		if part == h || !strings.HasPrefix(text, part) {
			continue // not cut, or reworded (a link or leading emoji left out)
		}
		cut++
		whole := c.vector(wire.Entry{Headline: h, Text: text, Lang: it.Lang})
		rest := c.vector(wire.Entry{Headline: h, Text: text[len(part):], Lang: it.Lang})
		if !slices.Equal(whole, rest) {
			t.Fatalf("post %s: the headline's words count twice\nheadline %q", it.ID, h)
		}
	}
	if cut < 50 {
		t.Errorf("%d posts with a cut headline; the sample holds hundreds", cut)
	}
	t.Logf("%d posts of %d with a cut headline", cut, len(items))
}
