package eval

import (
	"strings"
	"testing"

	"github.com/newswire/newswire/ingest/replay"
)

// TestArticlesWithoutCapitalsKeepTheirStories reads the ECB+ articles
// twice, as they are and in small letters only: a stand-in for the
// scripts that have no capitals (Arabic, Chinese, Hebrew, Persian, Hindi,
// Thai), where capitals can mark no name. Between full articles most of
// the evidence is in the names they share, so a text without capitals
// must still have names. When such a text named nothing, the articles
// in small letters fell apart into 288 stories for 42 events (BCubed F1
// 0.43 against 0.89 with capitals); with the words the stream has never
// written either way counted as names, as in a text in capitals, they
// keep most of their stories.
func TestArticlesWithoutCapitalsKeepTheirStories(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-file evaluation")
	}
	items, err := replay.ReadFile("../testdata/replay/ecbplus-dev.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lower := make([]replay.Item, len(items))
	for i, it := range items {
		it.Title, it.Text = strings.ToLower(it.Title), strings.ToLower(it.Text)
		lower[i] = it
	}
	scores := scoreStreams(t, items, lower)
	c, l := scores[0], scores[1]
	t.Logf("with capitals: BCubed F1 %.4f, %d stories; in small letters: BCubed F1 %.4f (P %.4f R %.4f), %d stories",
		c.BCubedF1, c.Predicted, l.BCubedF1, l.BCubedPrecision, l.BCubedRecall, l.Predicted)
	if l.BCubedF1 < c.BCubedF1-0.12 {
		t.Errorf("articles in small letters: BCubed F1 %.4f against %.4f with capitals", l.BCubedF1, c.BCubedF1)
	}
}
