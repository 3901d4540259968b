package normalize

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// Floors of the near-duplicate evaluation. The targets are
// precision ≥ 0.98 and recall ≥ 0.90 on syndicated copies; the floors sit
// at those targets so that a change that loses them fails here, not in
// production. Figures are printed with -v (see README for the last run).
const (
	floorPrecision = 0.98
	floorRecall    = 0.90
)

type evalCounts struct{ tp, fp, fn, tn int }

func (c evalCounts) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}
func (c evalCounts) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

func (c *evalCounts) add(gold, got bool) {
	switch {
	case gold && got:
		c.tp++
	case gold:
		c.fn++
	case got:
		c.fp++
	default:
		c.tn++
	}
}

type evalEntry struct {
	sketch   Sketch
	simhash  uint64
	features []uint64
}

func loadNearDupEval(t testing.TB) (map[string]evalEntry, []nearPair) {
	t.Helper()
	items := readReplay(t, filepath.Join("testdata", "neardup", "items.jsonl.gz"))
	cfg := DefaultConfig()
	cfg.Detector = ScriptDetector{}
	entries := make(map[string]evalEntry, len(items))
	for _, it := range items {
		if it.Source == "" {
			it.Source = "unnamed" // a few UCI rows name no publisher
		}
		raw := wire.RawItem{Kind: it.Kind, Source: it.Source, NativeID: it.ID, URL: it.URL, Title: it.Title,
			Body: it.Text, BodyFormat: wire.FormatMarkdown, Published: it.PublishedAt, Lang: it.Lang,
			ObservedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
		e, err := Normalize(cfg, raw, provenance.RawRef{})
		if err != nil {
			t.Fatalf("normalize %s: %v", it.ID, err)
		}
		h, _ := strconv.ParseUint(e.Fingerprint.SimHash, 16, 64)
		var buf [2 * maxFeatureTokens]uint64
		feats := slices.Clone(textFeatures(&buf, featureTexts(&e)...))
		entries[it.ID] = evalEntry{sketch: SketchOf(&e), simhash: h, features: feats}
	}
	f, err := os.Open(filepath.Join("testdata", "neardup", "pairs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pairs []nearPair
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var p nearPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	return entries, pairs
}

// TestNearDuplicateEvaluation scores the production detector (the LSH
// index at the configured threshold) and, for comparison, 64-bit SimHash at
// Hamming distance 3 on the labelled pairs of testdata/neardup.
func TestNearDuplicateEvaluation(t *testing.T) {
	entries, pairs := loadNearDupEval(t)
	threshold := DefaultConfig().NearDupSimilarity
	detect := func(p nearPair) bool {
		a, b := entries[p.A], entries[p.B]
		return lshMatch(threshold, &a.sketch, &b.sketch)
	}
	bySet := map[string]*evalCounts{}
	simBySet := map[string]*evalCounts{}
	var all, sim, syndicated, simSyndicated evalCounts
	ambiguous, ambiguousHit := 0, 0
	for _, p := range pairs {
		got := detect(p)
		simGot := Hamming(entries[p.A].simhash, entries[p.B].simhash) <= 3
		if p.Dup == nil {
			ambiguous++
			if got {
				ambiguousHit++
			}
			continue
		}
		if bySet[p.Set] == nil {
			bySet[p.Set], simBySet[p.Set] = &evalCounts{}, &evalCounts{}
		}
		bySet[p.Set].add(*p.Dup, got)
		simBySet[p.Set].add(*p.Dup, simGot)
		all.add(*p.Dup, got)
		sim.add(*p.Dup, simGot)
		if strings.HasPrefix(p.Set, "uci-") {
			syndicated.add(*p.Dup, got)
			simSyndicated.add(*p.Dup, simGot)
		}
	}
	sets := make([]string, 0, len(bySet))
	for s := range bySet {
		sets = append(sets, s)
	}
	sort.Strings(sets)
	for _, s := range sets {
		c, sc := bySet[s], simBySet[s]
		t.Logf("%-16s pairs %4d  minhash: tp %4d fp %4d fn %4d  simhash≤3: tp %4d fp %4d fn %4d",
			s, c.tp+c.fp+c.fn+c.tn, c.tp, c.fp, c.fn, sc.tp, sc.fp, sc.fn)
	}
	line := func(name string, c evalCounts) string {
		return fmt.Sprintf("%s precision %.4f recall %.4f (tp %d fp %d fn %d tn %d)", name, c.precision(), c.recall(), c.tp, c.fp, c.fn, c.tn)
	}
	t.Log(line(fmt.Sprintf("minhash-lsh J≥%.2f all:       ", threshold), all))
	t.Log(line(fmt.Sprintf("minhash-lsh J≥%.2f syndicated:", threshold), syndicated))
	t.Log(line("simhash-64 k≤3 all:           ", sim))
	t.Log(line("simhash-64 k≤3 syndicated:    ", simSyndicated))
	t.Logf("ambiguous (copy-edited, unscored): %d of %d flagged", ambiguousHit, ambiguous)
	if all.precision() < floorPrecision || all.recall() < floorRecall {
		t.Errorf("near-duplicate detection below the floor: %s", line("all", all))
	}
	if syndicated.precision() < floorPrecision || syndicated.recall() < floorRecall {
		t.Errorf("near-duplicate detection below the floor on syndicated copies: %s", line("syndicated", syndicated))
	}
}

// TestNearDuplicateSweep prints precision and recall over thresholds, the
// measurement behind the default (run with -v -run Sweep).
func TestNearDuplicateSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("sweep skipped in -short")
	}
	entries, pairs := loadNearDupEval(t)
	for _, th := range []float64{0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8} {
		var c evalCounts
		for _, p := range pairs {
			if p.Dup == nil {
				continue
			}
			a, b := entries[p.A], entries[p.B]
			c.add(*p.Dup, a.sketch.Jaccard(&b.sketch) >= th)
		}
		t.Logf("minhash J≥%.2f (no LSH) precision %.4f recall %.4f", th, c.precision(), c.recall())
	}
	for k := 0; k <= 12; k += 3 {
		var c evalCounts
		for _, p := range pairs {
			if p.Dup != nil {
				c.add(*p.Dup, Hamming(entries[p.A].simhash, entries[p.B].simhash) <= k)
			}
		}
		t.Logf("simhash k≤%2d precision %.4f recall %.4f", k, c.precision(), c.recall())
	}
}

// lshMatch reports whether the production index, holding only a, finds b
// a near-duplicate of it.
func lshMatch(threshold float64, a, b *Sketch) bool {
	ix := newNearIndex(threshold, time.Hour, 10)
	ix.Add("a", a, time.Time{})
	_, ok := ix.Match(b)
	return ok
}

// classicMinHash is MinHash by its definition: 64 independent hash
// functions (multiply-shift by odd multipliers), each keeping its minimum
// over all features. It is the baseline the fast sketch is compared with.
func classicMinHash(features []uint64, mult *[sketchSize]uint64) Sketch {
	var s Sketch
	for i := range s {
		s[i] = math.MaxUint32
	}
	for _, f := range features {
		for i := range s {
			s[i] = min(s[i], uint32((f*mult[i])>>32))
		}
	}
	return s
}

// TestNearDuplicateSeedSensitivity scores the evaluation pairs with the
// fast sketch and with classic 64-function MinHash under eight hash seeds
// each (the production seed is one fixed choice among them). Which
// borderline pairs (true Jaccard near the threshold) are flagged depends on
// the seed; the mean over seeds must hold the floors for the fast sketch,
// and the spread is printed with -v (see README).
func TestNearDuplicateSeedSensitivity(t *testing.T) {
	if testing.Short() {
		t.Skip("seed sweep skipped in -short")
	}
	entries, pairs := loadNearDupEval(t)
	threshold := DefaultConfig().NearDupSimilarity
	type score struct{ all, syndicated evalCounts }
	run := func(sketch func([]uint64) Sketch) score {
		sketches := make(map[string]Sketch, len(entries))
		for id, e := range entries {
			sketches[id] = sketch(e.features)
		}
		var sc score
		for _, p := range pairs {
			if p.Dup == nil {
				continue
			}
			a, b := sketches[p.A], sketches[p.B]
			got := lshMatch(threshold, &a, &b)
			sc.all.add(*p.Dup, got)
			if strings.HasPrefix(p.Set, "uci-") {
				sc.syndicated.add(*p.Dup, got)
			}
		}
		return sc
	}
	const seeds = 8
	var fastMean, classicMean [4]float64 // all P, all R, syndicated P, syndicated R
	for seed := uint64(1); seed <= seeds; seed++ {
		salts := newSketchSalts(seed * 0x2545f4914f6cdd1d)
		var mult [sketchSize]uint64
		copy(mult[:], salts[:sketchSize])
		fast := run(func(f []uint64) Sketch { return fastSketch(f, &salts) })
		classic := run(func(f []uint64) Sketch { return classicMinHash(f, &mult) })
		for i, v := range []float64{fast.all.precision(), fast.all.recall(), fast.syndicated.precision(), fast.syndicated.recall()} {
			fastMean[i] += v / seeds
		}
		for i, v := range []float64{classic.all.precision(), classic.all.recall(), classic.syndicated.precision(), classic.syndicated.recall()} {
			classicMean[i] += v / seeds
		}
		t.Logf("seed %d  fast: all P %.4f R %.4f  syndicated P %.4f R %.4f   classic: all P %.4f R %.4f  syndicated P %.4f R %.4f",
			seed, fast.all.precision(), fast.all.recall(), fast.syndicated.precision(), fast.syndicated.recall(),
			classic.all.precision(), classic.all.recall(), classic.syndicated.precision(), classic.syndicated.recall())
	}
	t.Logf("mean     fast: all P %.4f R %.4f  syndicated P %.4f R %.4f   classic: all P %.4f R %.4f  syndicated P %.4f R %.4f",
		fastMean[0], fastMean[1], fastMean[2], fastMean[3], classicMean[0], classicMean[1], classicMean[2], classicMean[3])
	if fastMean[2] < floorPrecision || fastMean[3] < floorRecall {
		t.Errorf("fast sketch below the floor on syndicated copies averaged over seeds: precision %.4f recall %.4f", fastMean[2], fastMean[3])
	}
}
