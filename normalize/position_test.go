package normalize

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// Items of one feed whose dates cannot be used keep the feed's order
// (first newest), one PositionStep apart, and keep the flag that says why.
func TestUnusableDatesKeepFeedOrder(t *testing.T) {
	obs := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	cfg := DefaultConfig()
	cfg.Detector = ScriptDetector{}
	for _, c := range []struct {
		published string
		flag      string
	}{
		{"", FlagNoTime},
		{"Seg, 31 Fev 2018 25:61:00", FlagBadTime},
		{"1970-01-01T00:00:00Z", FlagAncientTime},
		{"2031-01-01T00:00:00Z", FlagFutureTime},
	} {
		var prev time.Time
		for pos := range 40 {
			raw := wire.RawItem{Kind: "rss", Source: "feed", NativeID: "n" + strconv.Itoa(pos), Title: "Item " + strconv.Itoa(pos),
				Published: c.published, ObservedAt: obs, Position: pos}
			e, err := Normalize(cfg, raw, provenance.RawRef{})
			if err != nil {
				t.Fatal(err)
			}
			want := obs.Add(-time.Duration(pos) * time.Second)
			if !e.PublishedAt.Equal(want) || !slices.Contains(e.Flags, c.flag) {
				t.Fatalf("%q at position %d: published %v flags %v, want %v with %s", c.published, pos, e.PublishedAt, e.Flags, want, c.flag)
			}
			if pos > 0 && !e.PublishedAt.Before(prev) {
				t.Fatalf("%q: position %d not older than position %d", c.published, pos, pos-1)
			}
			if e.LagSeconds != float64(pos) {
				t.Fatalf("lag %v at position %d", e.LagSeconds, pos)
			}
			prev = e.PublishedAt
		}
	}
}

func TestPositionLeavesReadableDatesAlone(t *testing.T) {
	obs := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	raw := wire.RawItem{Kind: "rss", Source: "feed", NativeID: "a", Title: "T", Published: "2024-06-11T09:30:00Z", ObservedAt: obs, Position: 7}
	e, err := Normalize(DefaultConfig(), raw, provenance.RawRef{})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 6, 11, 9, 30, 0, 0, time.UTC); !e.PublishedAt.Equal(want) || len(e.Flags) > 1 {
		t.Fatalf("published %v flags %v", e.PublishedAt, e.Flags)
	}
}

func TestPositionIsBounded(t *testing.T) {
	obs := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		pos  int
		want time.Time
	}{
		{-5, obs},
		{MaxPosition + 1, obs.Add(-MaxPosition * PositionStep)},
		{int(^uint(0) >> 1), obs.Add(-MaxPosition * PositionStep)},
	} {
		if got := positionTime(obs, c.pos); !got.Equal(c.want) {
			t.Errorf("position %d: %v, want %v", c.pos, got, c.want)
		}
	}
}

// A title the source marks as plain text keeps what looks like markup; an
// HTML title or one of unknown format loses its tags.
func TestTitleFormat(t *testing.T) {
	obs := time.Date(2024, 6, 11, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		format, title, want string
	}{
		{wire.FormatText, "Die Rückkehr von <i> und <b>", "Die Rückkehr von <i> und <b>"},
		{wire.FormatText, "AT&amp;T  &lt;3", "AT&amp;T &lt;3"},
		{wire.FormatHTML, "Grève <em>nationale</em> jeudi", "Grève nationale jeudi"},
		{wire.FormatHTML, "AT&amp;T &lt;3", "AT&T <3"},
		{"", "Grève <em>nationale</em> jeudi", "Grève nationale jeudi"},
	} {
		raw := wire.RawItem{Kind: "rss", Source: "feed", NativeID: "a", Title: c.title, TitleFormat: c.format, ObservedAt: obs}
		e, err := Normalize(DefaultConfig(), raw, provenance.RawRef{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Headline != c.want {
			t.Errorf("%s title %q: headline %q, want %q", c.format, c.title, e.Headline, c.want)
		}
	}
}
