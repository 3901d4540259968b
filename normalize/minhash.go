package normalize

import (
	"math"

	"github.com/newswire/newswire/words"
)

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

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// bigramSeparator joins the two tokens of a bigram; no token contains it.
	bigramSeparator = 0xff
)

// fnv1a continues FNV-1a hash h over tok.
func fnv1a(h uint64, tok []byte) uint64 {
	for _, c := range tok {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// featureHash is FNV-1a over one or two tokens, finalised by mix64. It is
// seedless on purpose: replicas and restarts must agree on every sketch.
func featureHash(a, b string) uint64 {
	h := fnv1a(fnvOffset, []byte(a))
	if b != "" {
		h = fnv1a((h^bigramSeparator)*fnvPrime, []byte(b))
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

// textFeatures is Features(words.Split(strings.Join(texts, "\n")))
// without the strings: it tokenizes only as far as the features reach and
// hashes each token in the tokenizer's buffer, continuing the previous
// token's FNV state for the bigram. The features land in buf.
func textFeatures(buf *[2 * maxFeatureTokens]uint64, texts ...string) []uint64 {
	var tz words.Tokenizer
	out := buf[:0]
	var prev uint64
	n := 0
	for _, text := range texts {
		tz.Reset(text)
		for ; n < maxFeatureTokens; n++ {
			tok := tz.Next()
			if tok == nil {
				break
			}
			h := fnv1a(fnvOffset, tok)
			out = append(out, mix64(h))
			if n > 0 {
				out = append(out, mix64(fnv1a((prev^bigramSeparator)*fnvPrime, tok)))
			}
			prev = h
		}
	}
	return out
}

// MinHash computes the sketch of a feature set. Each of the 64 hash
// functions is multiply-shift hashing (Dietzfelbinger) of the already
// mixed feature hash with its own odd multiplier: one multiplication per
// function, where re-mixing would cost five. The minimum is taken without
// a branch, which early in a sketch mispredicts half the time.
//
// Fast similarity sketching (Dahlgaard, Knudsen, Thorup 2017) fills the
// same 64 values with ~6x fewer hash evaluations and scored the same on
// the evaluation over eight hash seeds, but changes which borderline pairs
// (true Jaccard near the threshold) a given hash flags, and flipped the
// e2e crash-report pair (true J ≈ 0.48) to a duplicate; see README.
func MinHash(features []uint64) Sketch {
	var s Sketch
	for i := range s {
		s[i] = math.MaxUint32
	}
	for _, f := range features {
		for i := range s {
			s[i] = min(s[i], uint32((f*sketchSeeds[i])>>32))
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
