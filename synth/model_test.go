package synth

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/wire"
)

// TestDefaultModelLoads checks the shipped model.json: it parses, names
// this build's features in this build's order, and its thresholds are
// probabilities a join can reach.
func TestDefaultModelLoads(t *testing.T) {
	m, err := ParseModel(defaultModel)
	if err != nil {
		t.Fatalf("the shipped model: %v", err)
	}
	if !slices.Equal(m.Features, featureNames[:]) {
		t.Fatalf("features %q, want %q", m.Features, featureNames)
	}
	if len(m.Weights) != numFeatures {
		t.Fatalf("%d weights for %d features", len(m.Weights), numFeatures)
	}
	for i, w := range m.Weights {
		if m.w[i] != w || math.IsNaN(w) || math.IsInf(w, 0) {
			t.Errorf("weight %d (%s): %v in the file, %v in use", i, featureNames[i], w, m.w[i])
		}
	}
	for name, th := range map[string][2]float64{"join_threshold": m.Join, "merge_threshold": m.Merge} {
		for k, v := range th {
			if !(v > 0 && v <= 1) {
				t.Errorf("%s[%d] = %v, want within (0, 1]", name, k, v)
			}
		}
	}
	if math.IsNaN(m.Bias) || math.IsInf(m.Bias, 0) {
		t.Errorf("bias %v", m.Bias)
	}
	d := DefaultModel() // must not panic
	if d.Bias != m.Bias || !slices.Equal(d.Weights, m.Weights) {
		t.Error("DefaultModel differs from the parsed model.json")
	}
	// The features must have distinct names: a file is checked by them.
	seen := map[string]bool{}
	for _, n := range featureNames {
		if seen[n] {
			t.Errorf("feature name %q used twice", n)
		}
		seen[n] = true
	}
}

// modelJSON is the shipped model as a generic JSON object, for editing.
func modelJSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(defaultModel, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParseModelRefusesOtherFeatures: a model file made for another set
// of features, or with unusable numbers, is refused with ErrModel rather
// than misread.
func TestParseModelRefusesOtherFeatures(t *testing.T) {
	edits := map[string]func(m map[string]any){
		"a feature renamed": func(m map[string]any) {
			m["features"].([]any)[1] = "short.member_cosine_v0"
		},
		"two features swapped": func(m map[string]any) {
			f := m["features"].([]any)
			f[0], f[1] = f[1], f[0]
		},
		"a feature and its weight missing": func(m map[string]any) {
			f, w := m["features"].([]any), m["weights"].([]any)
			m["features"], m["weights"] = f[:len(f)-1], w[:len(w)-1]
		},
		"a feature too many": func(m map[string]any) {
			m["features"] = append(m["features"].([]any), "short.extra")
			m["weights"] = append(m["weights"].([]any), 0.5)
		},
		"a weight missing": func(m map[string]any) {
			w := m["weights"].([]any)
			m["weights"] = w[:len(w)-1]
		},
		"no features": func(m map[string]any) {
			delete(m, "features")
			delete(m, "weights")
		},
		"a join threshold of zero": func(m map[string]any) {
			m["join_threshold"] = []any{0, 0.5}
		},
		"a merge threshold over one": func(m map[string]any) {
			m["merge_threshold"] = []any{0.5, 1.5}
		},
		"no thresholds": func(m map[string]any) {
			delete(m, "join_threshold")
			delete(m, "merge_threshold")
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			m := modelJSON(t)
			edit(m)
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseModel(b); !errors.Is(err, ErrModel) {
				t.Fatalf("ParseModel: %v, want an ErrModel", err)
			}
		})
	}
	if _, err := ParseModel([]byte(`{"features": [`)); !errors.Is(err, ErrModel) {
		t.Fatalf("malformed JSON: %v, want an ErrModel", err)
	}
	// The edits above start from a file that parses.
	b, err := json.Marshal(modelJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseModel(b); err != nil {
		t.Fatalf("the unedited model: %v", err)
	}
}

// TestFitHoldsWeightsToTheirSigns fits examples in which a loose story
// and a headline of new words go with joins, as correlations between
// features can make them on a dev set: the fitted weights must not say
// so (they are held at zero), while a names share that points the
// known way keeps its negative weight and the cosine its positive one.
func TestFitHoldsWeightsToTheirSigns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var set []Example
	for i := range 800 {
		join := i%3 == 0
		var f features
		f[featCentroid] = 0.5 * rng.Float64()
		f[featNamesNew] = rng.Float64()
		f[featHeadNew] = rng.Float64()
		if join {
			f[featCentroid] += 0.3
			f[featNamesNew] *= 0.5
			f[featHeadNew] = 0.5 + 0.5*f[featHeadNew]
			f[featLoose] = float64(rng.IntN(2))
		}
		f.interact(0, 1, -1)
		set = append(set, Example{X: f, Join: join})
	}
	m, err := Fit([][]Example{set}, FitOptions{L2: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Weights[featLoose]; w != 0 {
		t.Errorf("weight of loose_story is %v, want 0: a topic must not attract", w)
	}
	if w := m.Weights[featHeadNew]; w != 0 {
		t.Errorf("weight of headline_new is %v, want 0", w)
	}
	if w := m.Weights[featNamesNew]; w >= 0 {
		t.Errorf("weight of names_new is %v, want it negative", w)
	}
	if w := m.Weights[featCentroid]; w <= 0 {
		t.Errorf("weight of centroid_cosine is %v, want it positive", w)
	}
}

// TestFitSeparatesSyntheticExamples fits a model to examples whose joins
// have high cosines and small time gaps and whose others do not: the
// weights must point the right way, the fitted model must classify the
// examples it saw, and it must survive a round trip through a file.
func TestFitSeparatesSyntheticExamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	example := func(join bool, long float64) Example {
		var f features
		if join {
			f[featCentroid], f[featMember], f[featGap] = u(0.35, 0.9), u(0.4, 1), u(0, 1.5)
		} else {
			f[featCentroid], f[featMember], f[featGap] = u(0, 0.4), u(0, 0.45), u(0.5, 8)
		}
		f[featSize] = math.Log1p(float64(1 + rng.IntN(20)))
		f.interact(long, 1, -1)
		return Example{X: f, Join: join}
	}
	// Two sets of other sizes and lengths of text, as headline and
	// full-text streams are; both hold more non-joins than joins.
	var short, long []Example
	for i := range 600 {
		short = append(short, example(i%4 == 0, 0))
	}
	for i := range 200 {
		long = append(long, example(i%3 == 0, 0.5+0.5*rng.Float64()))
	}
	m, err := Fit([][]Example{short, long}, FitOptions{L2: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if m.Examples != len(short)+len(long) || !slices.Equal(m.Features, featureNames[:]) {
		t.Fatalf("fitted model: %d examples, features %q", m.Examples, m.Features)
	}
	for _, c := range []struct {
		feat int
		sign float64
	}{
		{featCentroid, 1}, {featMember, 1}, {featGap, -1},
		{numBase + featMember, 1},
	} {
		if w := m.Weights[c.feat]; w*c.sign <= 0 {
			t.Errorf("weight of %s is %v, want its sign %v", featureNames[c.feat], w, c.sign)
		}
	}
	// Long texts are judged by their members only (see interact): the
	// long copies of the other features are always zero, and so are their
	// weights.
	for i := range numBase {
		if !longFeature[i] && m.Weights[numBase+i] != 0 {
			t.Errorf("weight of %s is %v, want 0", featureNames[numBase+i], m.Weights[numBase+i])
		}
	}
	for _, set := range [][]Example{short, long} {
		wrong := 0
		for i := range set {
			if (m.probability(&set[i].X) >= 0.5) != set[i].Join {
				wrong++
			}
		}
		if wrong > len(set)/20 {
			t.Errorf("%d of %d training examples misclassified", wrong, len(set))
		}
	}
	// A fitted model with thresholds is a model file.
	m.Join, m.Merge = [2]float64{0.5, 0.5}, [2]float64{0.4, 0.6}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel(b)
	if err != nil {
		t.Fatalf("the fitted model does not parse back: %v", err)
	}
	for i := range short {
		if p, q := m.probability(&short[i].X), back.probability(&short[i].X); p != q {
			t.Fatalf("example %d: probability %v, %v after the round trip", i, p, q)
		}
	}
	if _, err := Fit(nil, FitOptions{}); !errors.Is(err, ErrModel) {
		t.Errorf("Fit with no examples: %v, want an ErrModel", err)
	}
}

// TestGapStretchesWithTheStorysSpan: the time gap is counted in half-
// lives stretched by the story's span, up to one more half-life. A story
// of one report (or of one burst) keeps the plain half-life; one whose
// reports have kept coming for three hours counts a gap in units of nine;
// a topic of three weeks counts it in units of twelve, not of three weeks.
func TestGapStretchesWithTheStorysSpan(t *testing.T) {
	const hl = 6 * time.Hour
	t0 := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		span, after time.Duration
		want        float64
	}{
		{"one report, 12 h later", 0, 12 * time.Hour, 2},
		{"a 3 h story, 9 h later", 3 * time.Hour, 9 * time.Hour, 1},
		{"a 6 h story, 12 h later", 6 * time.Hour, 12 * time.Hour, 1},
		{"a 3-week topic, 12 h later", 21 * 24 * time.Hour, 12 * time.Hour, 1},
		{"a 3-week topic, 10 days later", 21 * 24 * time.Hour, 240 * time.Hour, maxGap},
		{"inside the span", 6 * time.Hour, -3 * time.Hour, 0},
	} {
		s := &story{first: t0, last: t0.Add(c.span)}
		if got := gapFeature(s, s.last.Add(c.after), hl); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: gap %v units, want %v", c.name, got, c.want)
		}
	}
	// An entry older than the story is measured from its first report.
	s := &story{first: t0, last: t0.Add(3 * time.Hour)}
	if got := gapFeature(s, t0.Add(-9*time.Hour), hl); math.Abs(got-1) > 1e-12 {
		t.Errorf("9 h before a 3 h story: gap %v, want 1", got)
	}
}

// TestReplacedTimeSaysNothing: an entry whose published time the
// normalizer could not use carries its observed time instead, which
// many entries of one poll share. Its time gap must not count: the no_time
// feature is set and the gap is zero, however far the time is from the
// story's. An entry with its own time gets the gap.
func TestReplacedTimeSaysNothing(t *testing.T) {
	features := func(flags ...string) features {
		t.Helper()
		first := entry("e1", "x", "Dam breach floods villages in northern Kenya", "", 0)
		// Twelve hours later: two half-lives away from the story.
		late := entry("e2", "y", "Kenya dam bursts near Mai Mahiu, villages flooded", "", 12*60)
		late.Flags = flags
		ex, err := Examples(DefaultConfig(), []wire.Entry{first, late}, []string{"dam", "dam"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != 1 || !ex[0].Join {
			t.Fatalf("%d examples, want the one of the dam story: %+v", len(ex), ex)
		}
		if ex[0].X[featLong] != 0 {
			t.Fatalf("a headline counts as long text (%v); the short features are read below", ex[0].X[featLong])
		}
		return ex[0].X
	}
	own := features()
	if own[featNoTime] != 0 || own[featGap] < 1.9 {
		t.Fatalf("with its own time: no_time %v, time_gap %v; want 0 and 2 half-lives", own[featNoTime], own[featGap])
	}
	for _, flag := range []string{normalize.FlagNoTime, normalize.FlagBadTime, normalize.FlagFutureTime, normalize.FlagAncientTime} {
		f := features(normalize.FlagLangDetected, flag)
		if f[featNoTime] != 1 || f[featGap] != 0 {
			t.Errorf("flagged %s: no_time %v, time_gap %v; want 1 and 0", flag, f[featNoTime], f[featGap])
		}
		if f[featCentroid] != own[featCentroid] {
			t.Errorf("flagged %s: the centroid cosine changed, %v → %v", flag, own[featCentroid], f[featCentroid])
		}
	}
	if f := features(normalize.FlagLangDetected, normalize.FlagTextTruncated); f[featNoTime] != 0 || f[featGap] != own[featGap] {
		t.Errorf("flags about other things: no_time %v, time_gap %v; want 0 and %v", f[featNoTime], f[featGap], own[featGap])
	}
}

// TestTimeFlagsMatchNormalize keeps synth's copies of the normalizer's
// time flags in step with the normalizer's.
func TestTimeFlagsMatchNormalize(t *testing.T) {
	pairs := []struct{ synth, normalize string }{
		{flagFutureTime, normalize.FlagFutureTime},
		{flagAncientTime, normalize.FlagAncientTime},
		{flagNoTime, normalize.FlagNoTime},
		{flagBadTime, normalize.FlagBadTime},
	}
	for _, p := range pairs {
		if p.synth != p.normalize {
			t.Errorf("synth's flag %q, the normalizer's %q", p.synth, p.normalize)
		}
		if !timeReplaced(p.normalize) {
			t.Errorf("%q does not mark a replaced time", p.normalize)
		}
	}
	for _, f := range []string{normalize.FlagLangDetected, normalize.FlagTextTruncated, ""} {
		if timeReplaced(f) {
			t.Errorf("%q marks a replaced time", f)
		}
	}
}

// TestCombineKeepsEachKindsDecisions: the combined model gives a short
// text the short model's log-odds and thresholds and a long text the long
// model's, although the two have different biases.
func TestCombineKeepsEachKindsDecisions(t *testing.T) {
	short, long := DefaultModel(), DefaultModel()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range long.Weights {
		long.Weights[i] += rng.NormFloat64()
		long.w[i] = long.Weights[i]
	}
	long.Bias -= 2.5
	long.Join, long.Merge = [2]float64{0.9, 0.3}, [2]float64{0.9, 0.8}
	m := Combine(short, long)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseModel(b)
	if err != nil {
		t.Fatalf("the combined model does not parse: %v", err)
	}
	for range 50 {
		var f features
		for i := range numBase {
			f[i] = rng.Float64()
		}
		for _, c := range []struct {
			long float64
			want *Model
		}{{0, &short}, {1, &long}} {
			g := f
			g.interact(c.long, 1, -1)
			if got, want := back.logit(&g), c.want.logit(&g); math.Abs(got-want) > 1e-9 {
				t.Fatalf("longness %v: log-odds %v, want %v", c.long, got, want)
			}
		}
	}
	if back.Join != [2]float64{short.Join[0], long.Join[1]} || back.Merge != [2]float64{short.Merge[0], long.Merge[1]} {
		t.Errorf("thresholds join %v merge %v; want the short model's first and the long model's second", back.Join, back.Merge)
	}
}

// TestPolicyExamplesFollowTheModelsOwnStories: on its own decisions the
// clusterer puts two reports of different events in one story when the
// threshold lets it; a third report of the first event then meets that
// story, and the example says whether most of its members are of the
// entry's event.
func TestPolicyExamplesFollowTheModelsOwnStories(t *testing.T) {
	a1 := entry("e1", "x", "Dam breach floods villages in northern Kenya", "", 0)
	b1 := entry("e2", "y", "Kenya dam operator fined over safety report", "", 10)
	a2 := entry("e3", "z", "Kenya dam breach: villages flooded, dozens missing", "", 20)
	labels := []string{"breach", "fine", "breach"}
	cfg := DefaultConfig()
	cfg.Threshold = 0.001 // everything joins
	ex, err := PolicyExamples(cfg, []wire.Entry{a1, b1, a2}, labels)
	if err != nil {
		t.Fatal(err)
	}
	// b1 meets a1's story (not its event); a2 meets the story of a1 and
	// b1, whose members are one of each: the tie goes to the first.
	if len(ex) != 2 || ex[0].Join || !ex[1].Join {
		t.Fatalf("examples %+v; want a non-join for the fine, then a join for the second breach report", ex)
	}
	gold, err := Examples(cfg, []wire.Entry{a1, b1, a2}, labels)
	if err != nil {
		t.Fatal(err)
	}
	// Following the gold labels, the second breach report meets two
	// stories, one of each event.
	if len(gold) != 3 {
		t.Fatalf("%d gold-following examples, want 3", len(gold))
	}
	if _, err := PolicyExamples(cfg, []wire.Entry{a1}, nil); err == nil {
		t.Error("PolicyExamples with no labels: no error")
	}
}

// TestFewNamesDrawLittleOnTheLongNamesWeight: the long-text names weight
// was fitted on articles that name many people and places; an entry of
// one or two names reaches only a share of it (n/3), while the short
// copy and the entry of three or more names are left as they are.
func TestFewNamesDrawLittleOnTheLongNamesWeight(t *testing.T) {
	for n, want := range map[int]float64{0: 0, 1: 1.0 / 3, 2: 2.0 / 3, 3: 1, 12: 1} {
		if got := namesReach(n); math.Abs(got-want) > 1e-12 {
			t.Errorf("namesReach(%d) = %v, want %v", n, got, want)
		}
	}
	var f features
	f[featNamesMember], f[featMember] = 0.9, 0.5
	g := f
	f.interact(0.5, 1, -1)
	g.interact(0.5, namesReach(1), -1)
	if g[numBase+featNamesMember] != f[numBase+featNamesMember]/3 {
		t.Errorf("long names copy %v with one name, %v with many: want a third", g[numBase+featNamesMember], f[numBase+featNamesMember])
	}
	if g[featNamesMember] != f[featNamesMember] || g[numBase+featMember] != f[numBase+featMember] {
		t.Error("the reach changed a feature other than the long names copy")
	}
}

// TestNamesCountAsFarAsTheWordsAgree: a names cosine with little word
// agreement (a topic's one shared name) carries a share of its weight,
// in the short and the long copy alike; at a word cosine of 0.25 or more
// (with the centroid or one member) it carries all of it.
func TestNamesCountAsFarAsTheWordsAgree(t *testing.T) {
	for cos, want := range map[float64]float64{0: 0, 0.05: 0.2, 0.125: 0.5, 0.25: 1, 0.8: 1} {
		if got := wordsBack(cos); math.Abs(got-want) > 1e-12 {
			t.Errorf("wordsBack(%v) = %v, want %v", cos, got, want)
		}
	}
	names := func(centroid, member float64) features {
		var f features
		f[featCentroid], f[featMember] = centroid, member
		f[featNamesCentroid], f[featNamesMember] = 0.6, 0.8
		f.interact(0.5, 1, -1)
		return f
	}
	agree, topic, viaMember := names(0.3, 0.1), names(0.05, 0.05), names(0.02, 0.4)
	for _, i := range []int{featNamesCentroid, featNamesMember, numBase + featNamesMember} {
		if math.Abs(topic[i]-agree[i]*0.2) > 1e-12 {
			t.Errorf("feature %s: %v at word cosine 0.05, %v at 0.3: want a fifth", featureNames[i], topic[i], agree[i])
		}
		if math.Abs(viaMember[i]-agree[i]) > 1e-12 {
			t.Errorf("feature %s: %v when one member agrees in words, %v when the centroid does: want the same", featureNames[i], viaMember[i], agree[i])
		}
	}
	if topic[featCentroid] != 0.05*0.5 || topic[numBase+featMember] != 0.05*0.5 {
		t.Error("the words gate changed a feature other than the names cosines")
	}
}
