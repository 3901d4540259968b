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
