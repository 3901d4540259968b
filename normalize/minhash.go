package normalize

import "math"

// MinHash sketch parameters. 64 values estimate a Jaccard similarity with
// a standard error of at most 0.0625 (√(J(1−J)/64)); 16 bands of 4 rows make
// a pair with J = 0.6 a candidate with probability 0.88 and one with J = 0.8
// with probability 0.9999, while pairs under J = 0.3 are rarely compared at
// all (see README for the measurements behind these numbers).
const (
	sketchSize = 64
	bandRows   = 4
	bands      = sketchSize / bandRows
	// maxFeatureTokens bounds the work per entry: copies share their lead,
	// so the first tokens decide.
	maxFeatureTokens = 64
)

// Sketch is the MinHash signature of a text's features.
type Sketch [sketchSize]uint32

// featureHash is FNV-1a over one or two tokens, finalised by mix64. It is
// seedless on purpose: replicas and restarts must agree on every sketch.
func featureHash(a, b string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(a); i++ {
		h ^= uint64(a[i])
		h *= prime
	}
	if b != "" {
		h ^= 0xff // separator no token contains
		h *= prime
		for i := 0; i < len(b); i++ {
			h ^= uint64(b[i])
			h *= prime
		}
	}
	return mix64(h)
}

// Features returns the hashed word unigrams and bigrams of tokens (the
// first maxFeatureTokens of them). Unigrams keep short headlines, where a
// single changed word removes two bigrams, comparable; bigrams keep word
// order. Tokens come from words.Split, so every script is handled alike:
// CJK text contributes characters and character pairs.
func Features(toks []string) []uint64 {
	if len(toks) > maxFeatureTokens {
		toks = toks[:maxFeatureTokens]
	}
	out := make([]uint64, 0, 2*len(toks))
	for i, t := range toks {
		out = append(out, featureHash(t, ""))
		if i > 0 {
			out = append(out, featureHash(toks[i-1], t))
		}
	}
	return out
}

// MinHash computes the sketch of a feature set. Each of the 64 hash
// functions is multiply-shift hashing (Dietzfelbinger) of the already
// mixed feature hash with its own odd multiplier: one multiplication per
// function, where re-mixing would cost five.
func MinHash(features []uint64) Sketch {
	var s Sketch
	for i := range s {
		s[i] = math.MaxUint32
	}
	for _, f := range features {
		for i := range s {
			v := uint32((f * sketchSeeds[i]) >> 32)
			if v < s[i] {
				s[i] = v
			}
		}
	}
	return s
}

// sketchSeeds are fixed, so that sketches agree across processes.
var sketchSeeds = func() (seeds [sketchSize]uint64) {
	x := uint64(0x9e3779b97f4a7c15)
	for i := range seeds {
		x += 0x9e3779b97f4a7c15
		seeds[i] = mix64(x) | 1
	}
	return seeds
}()

// Jaccard estimates the Jaccard similarity of the feature sets of two
// sketches. Two empty sketches (all values at the maximum) count as unequal.
func (s *Sketch) Jaccard(o *Sketch) float64 {
	same := 0
	for i := range s {
		if s[i] == o[i] && s[i] != math.MaxUint32 {
			same++
		}
	}
	return float64(same) / sketchSize
}

// bandKeys returns the LSH bucket keys of a sketch, one per band; the band
// number is mixed in so one map can hold every band.
func (s *Sketch) bandKeys() [bands]uint64 {
	var keys [bands]uint64
	for b := 0; b < bands; b++ {
		h := uint64(b+1) * 0x9e3779b97f4a7c15
		for r := 0; r < bandRows; r++ {
			h = mix64(h ^ uint64(s[b*bandRows+r]))
		}
		keys[b] = h
	}
	return keys
}
