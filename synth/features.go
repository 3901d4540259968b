package synth

import (
	"math"
	"time"
)

// The features of an (entry, story) pair that the join model weighs. An
// event's reports share its who and where, not only its topic's words:
// two earthquakes share "quake", "magnitude" and "killed", and differ in
// the places and people named. So the words are compared twice, all of
// them and only the names and figures, each with the story's centroid
// (what the story is about as a whole) and with its closest recent member
// (a rewording of one report).
const (
	featCentroid      = iota // cosine with the story's centroid
	featMember               // best cosine with one recent member
	featNamesCentroid        // cosine of the names and figures with the centroid's
	featNamesMember          // best names cosine with one recent member
	featNoNames              // 1 when the entry or the story names nothing: the names cosines say nothing
	featGap                  // time between the entry and the story's span, in half-lives stretched by the span (at most 8; gapFeature)
	featNoTime               // 1 when the entry's time could not be read: the gap says nothing
	featSize                 // ln(1 + the story's reports)
	featLoose                // 1 when the story is loose (see Config.MinCoherence): a topic, not an event
	featNamesNew             // share of the entry's names (by squared weight) the story never had
	featHeadNew              // share of the entry's headline terms the story never had
	featShared               // ln(1 + terms shared with the nearest member)
	numBase
	// A headline and a full article give cosines of other scales, and
	// time and names mean other things in them: the model holds one set
	// of weights for short texts and one for long ones, blended by how
	// far the entry is a long text (0 at 12 terms or fewer, 1 at 40 or
	// more). The first numBase features are the short-text copies (each
	// times 1 − long), the next numBase the long-text ones (times long).
	featLong    = 2 * numBase
	numFeatures = featLong + 1
)

// baseNames name the base features.
var baseNames = [numBase]string{
	"centroid_cosine", "member_cosine", "names_centroid_cosine", "names_member_cosine",
	"no_names", "time_gap", "no_time", "story_size", "loose_story", "names_new", "headline_new",
	"member_shared_terms",
}

// featureSign is the direction in which each base feature's evidence
// can point (0: either). A fitted weight against it is held at zero
// (see Fit): a story that has become a topic must not attract an entry
// for being loose, nor a headline for the words the story never had,
// whatever the dev sets' correlations between features say.
var featureSign = [numBase]int{
	featCentroid: +1, featMember: +1, featNamesCentroid: +1, featNamesMember: +1,
	featGap: -1, featLoose: -1, featNamesNew: -1, featHeadNew: -1, featShared: +1,
}

// featureNames are the names of the features in a model file, in order.
var featureNames = func() (n [numFeatures]string) {
	for i, b := range baseNames {
		n[i], n[numBase+i] = "short."+b, "long."+b
	}
	n[featLong] = "long"
	return n
}()

// longness is how far an entry of n terms is a long text, from 0 to 1.
func longness(n int) float64 { return min(1, max(0, float64(n-12)/28)) }

// interact splits the base features into their short- and long-text copies.
//
// A long text is judged by its members alone: the centroid of full
// articles holds the words of every report, and two events of one kind
// (two quakes, two takeovers by one firm) meet there, while an article
// and its nearest fellow report agree on the event's own words. On the
// ECB+ dev set the long-text centroid features cost 0.01 BCubed F1
// (synth/README.md).
//
// names is how far the entry's names can carry the long-text names
// weight: a names cosine over one or two names is what a topic's reports
// share ("Trump"), not the many names of an article's event.
//
// The names cosines count only as far as the words agree (see
// wordsBack): two reports of one event share its names and its words,
// while a topic's reports share a name and little else.
//
// plain, when not negative, is the pair's best cosine over the words
// that are not names (see plainBack); the names cosines then count only
// as far as those words agree too. Where it is 0, every term the pair
// shares is a name in both, so the shared-terms count is a count of
// names: it then counts for nothing, as the names cosines do. Al
// Jazeera's "Israeli air strike kills one in northern Gaza" and "Israel
// vows to keep troops in Lebanon, Gaza and Syria" share "Israel" and
// "Gaza" and not one other word, and joined on that count
// (synth/README.md, "Shared names are not shared words").
func (f *features) interact(long, names, plain float64) {
	wShort := wordsBack(max(f[featCentroid], f[featMember]))
	wLong := wShort
	if plain >= 0 {
		wShort = min(wShort, plain/wordsPoint)
		wLong = min(wLong, plain/plainPointLong)
	}
	if plain >= 0 && plain < noPlain {
		f[featShared] = 0
	}
	nc, nm := f[featNamesCentroid], f[featNamesMember]
	for i := 0; i < numBase; i++ {
		f[numBase+i] = 0
		if longFeature[i] {
			f[numBase+i] = f[i] * long
		}
		f[i] *= 1 - long
	}
	f[featNamesCentroid] = nc * wShort * (1 - long)
	f[featNamesMember] = nm * wShort * (1 - long)
	f[numBase+featNamesMember] = nm * wLong * long
	f[numBase+featNamesMember] *= names
	f[featLong] = long
}

// wordsBack is how far a pair whose best word cosine (with the centroid
// or one member) is cos can draw on its names cosines: cos/0.25, at most
// 1. A linear model adds the evidence of shared names to that of shared
// words; what marks one event is both at once. Without it the captured
// feeds' topic stories grew on one name and a few common words (Leavitt's
// resignation joined the decoy-flight story at a word cosine of 0.15).
// The scale only lowers a names cosine and grows with the word cosines,
// so the member bound in score stays an upper bound. Why 0.25, and what
// it moved: synth/README.md, "Names backed by words".
func wordsBack(cos float64) float64 { return min(1, cos/wordsPoint) }

// wordsPoint is the word cosine at which names count in full.
const wordsPoint = 0.25

// noPlain is the plain-words cosine under which a pair shares no plain
// word: the cosine is a difference of two sums over the same terms, so
// where all shared terms are names it is 0 only up to rounding (a
// negative residue is taken as 0, see pairFeatures).
const noPlain = 1e-9

// plainPointLong is the plain-words cosine (see plainBack) at which the
// long-text names weight counts in full: an article shares fewer of its
// many words with a fellow report than two headlines do. At wordsPoint
// ECB+ fell from 0.901 to 0.878; from 0.01 to 0.05 it does not move
// (synth/README.md, "Plain words back names").
const plainPointLong = 0.05

// namesReach is the share of the long-text names weight an entry with n
// names (distinct terms) may draw on: n/3, at most 1.
func namesReach(n int) float64 { return min(1, float64(n)/3) }

// longFeature marks the base features the long-text weights read.
var longFeature = [numBase]bool{featMember: true, featNamesMember: true, featShared: true}

// features is one pair's feature vector.
type features [numFeatures]float64

// maxGap caps the time gap feature: beyond eight gap units (8 to 16
// half-lives, see gapFeature) a story is as good as unrelated in time,
// and an uncapped gap would dominate.
const maxGap = 8

// gapFeature is the time between at and the story's span, in units of
// the half-life plus the story's span up to one more half-life. A story
// whose reports have kept coming for six hours is not over after six
// quiet ones: publishers that file a few reports a day on one event
// space them that far apart. The span counts at most once more, or a
// topic that has run for weeks would be deaf to time; a story of one
// report, or of one burst, keeps the plain half-life.
func gapFeature(s *story, at time.Time, halfLife time.Duration) float64 {
	var gap time.Duration
	switch {
	case at.After(s.last):
		gap = at.Sub(s.last)
	case at.Before(s.first):
		gap = s.first.Sub(at)
	}
	unit := halfLife + min(halfLife, s.last.Sub(s.first))
	return min(maxGap, float64(gap)/float64(unit))
}

// namesPart is the length of the part of a unit vector that names, and
// how many of its terms do.
func namesPart(vec []term) (norm float64, n int) {
	var n2 float64
	for _, x := range vec {
		if x.p {
			n2 += x.w * x.w
			n++
		}
	}
	return math.Sqrt(n2), n
}

// cosine is dot / (a·b), zero when either length is zero.
func cosine(dot, a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return dot / (a * b)
}
