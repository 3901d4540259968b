package synth

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/newswire/newswire/wire"
)

// dbgAdd prints the scored candidates of e and adds it.
func dbgAdd(c *Clusterer, e wire.Entry) string {
	at := e.PublishedAt
	vec := c.vector(e)
	cands := c.score(vec, at, false)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q len=%d join=%.3f merge=%.3f\n", e.ID, e.Headline, len(vec), c.joinThreshold(vec), c.mergeThreshold(vec))
	for _, x := range cands {
		fmt.Fprintf(&b, "   %s p=%.4f cen=%.3f mem=%.3f nc=%.3f nm=%.3f nn=%.0f gap=%.2f size=%.2f namesNew=%.2f headNew=%.2f\n", x.s.id, x.score,
			x.f[featCentroid], x.f[featMember], x.f[featNamesCentroid], x.f[featNamesMember], x.f[featNoNames], x.f[featGap], x.f[featSize], x.f[featNamesNew], x.f[featHeadNew])
	}
	id := c.Add(e)
	fmt.Fprintf(&b, "   -> %s\n", id)
	os.Stderr.WriteString(b.String())
	return id
}

func TestZZDebug(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	cfg := DefaultConfig()
	fmt.Sscan(os.Getenv("T"), &cfg.Threshold)
	fmt.Sscan(os.Getenv("M"), &cfg.MergeThreshold)
	c, _ := NewClusterer(cfg)
	if os.Getenv("BG") != "" {
		background(c)
	}
	for i, h := range strings.Split(os.Getenv("ZZ"), "|") {
		dbgAdd(c, entry(fmt.Sprintf("e%d", i+1), fmt.Sprintf("s%d", i), h, "", i))
	}
	ids := []string{}
	for id := range c.stories { ids = append(ids, id) }
	for _, a := range ids { for _, b := range ids { if a < b && c.stories[a].active && c.stories[b].active {
		fmt.Fprintf(os.Stderr, "agree %s %s: %v %v\n", a, b, c.votes(c.stories[a], c.stories[b]), c.votes(c.stories[b], c.stories[a]))
	}}}
}

func TestZZDup(t *testing.T) {
	if os.Getenv("ZZDUP") == "" {
		t.Skip()
	}
	c := newTestClusterer(t)
	background(c)
	dbgAdd(c, entry("e1", "bbc", "Volcano erupts in Iceland, flights grounded", "", 0))
	dup := entry("e2", "mirror", "Volcano erupts in Iceland; flights grounded", "", 2)
	dup.DuplicateOf = "e1"
	dbgAdd(c, dup)
	odd := entry("e4", "x", "Central bank raises interest rates again to fight inflation", "", 4)
	odd.DuplicateOf = "e1"
	dbgAdd(c, odd)
	for id, s := range c.stories {
		fmt.Fprintln(os.Stderr, id, s.active, s.mergedInto, len(s.members))
	}
}

// groups separated by "#", headlines by "|": each group a story built by hand; prints each member's p against each other story.
func TestZZVotes(t *testing.T) {
	if os.Getenv("ZZV") == "" {
		t.Skip()
	}
	cfg := DefaultConfig()
	cfg.Threshold = 1 - 1e-9
	cfg.MergePassInterval = 0
	c, _ := NewClusterer(cfg)
	if os.Getenv("BG") != "" {
		background(c)
	}
	var sts []*story
	n := 0
	for _, g := range strings.Split(os.Getenv("ZZV"), "#") {
		var s *story
		for _, h := range strings.Split(g, "|") {
			n++
			id := fmt.Sprintf("e%d", n)
			c.Add(entry(id, fmt.Sprintf("s%d", n), strings.TrimSpace(h), "", n))
			x := c.byEntry[id]
			if s == nil {
				s = x
			} else if x != s {
				c.merge(s, x)
			}
		}
		sts = append(sts, s)
	}
	for i, a := range sts {
		for j, b := range sts {
			if i == j {
				continue
			}
			fmt.Fprintf(os.Stderr, "story %d -> %d:", i, j)
			for _, vec := range a.recent {
				fmt.Fprintf(os.Stderr, " %.3f", c.scoreStory(b, vec, b.first, false))
			}
			fmt.Fprintf(os.Stderr, "  votes=%v\n", c.votes(a, b))
		}
	}
	for i, a := range sts {
		o, v := c.nearestStory(a)
		k := -1
		for j, b := range sts { if b == o { k = j } }
		fmt.Fprintf(os.Stderr, "nearest(%d) = %d (%v) %.3f\n", i, k, o != nil, v)
	}
}
