package synth

import (
	"slices"
	"testing"
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
