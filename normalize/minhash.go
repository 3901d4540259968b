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
			// the unigram and the bigram hash run as two independent
			// chains in one loop, so that their multiplications overlap
			h, hb := uint64(fnvOffset), (prev^bigramSeparator)*fnvPrime
			for _, c := range tok {
				h = (h ^ uint64(c)) * fnvPrime
				hb = (hb ^ uint64(c)) * fnvPrime
			}
			out = append(out, mix64(h))
			if n > 0 {
				out = append(out, mix64(hb))
			}
			prev = h
		}
	}
	return out
}

// MinHash computes the sketch of a feature set by fast similarity
// sketching (Dahlgaard, Knudsen, Thorup, FOCS 2017), which fills the same
// 64 values as 64 independent hash functions with a few hundred hash
// evaluations instead of 64 per feature.
//
// The sketch is built in rounds. In round r every feature sends one value
// to one bin; the value carries r in its high bits, so a bin keeps the
// value of the earliest round that reached it, and among those the
// smallest. Once every bin holds a value no later round can lower one, and
// the sketch is final: for a post of ~130 features that is after three or
// four rounds. Rounds below 64 place a feature in a bin chosen by that
// round's hash; from round 64 on each feature walks the bins in its own
// order, which fills every bin of even a one-word text. Features take part
// symmetrically, so the value a bin keeps for A ∪ B comes from a uniformly
// chosen feature, and two sketches agree in a bin with probability
// J(A, B), as with classic MinHash; neardup_eval_test.go measures the
// estimate over several hash seeds.
func MinHash(features []uint64) Sketch {
	return fastSketch(features, &productionSalts)
}

// sketchRounds bounds the rounds: 64 of random bins, then 64 of a
// per-feature permutation, after which every bin is filled.
const sketchRounds = 2 * sketchSize

// sketchSalts are the odd multipliers of the sketch's hash functions, one
// per round and one for the permutation of the late rounds.
type sketchSalts [sketchRounds + 1]uint64

// productionSalts are fixed: replicas and restarts must agree on every
// sketch, so changing the seed is a change of sketch (see README).
var productionSalts = newSketchSalts(0x6e6577737769726b)

func newSketchSalts(seed uint64) (salts sketchSalts) {
	x := seed
	for i := range salts {
		x += 0x9e3779b97f4a7c15
		salts[i] = mix64(x) | 1
	}
	return salts
}

// fastSketch is MinHash with the given hash functions. A feature's hash in
// round r is multiply-shift hashing (Dietzfelbinger) of the already mixed
// feature by that round's multiplier: its top six bits choose the bin, the
// next 24 bits rank the value within the round.
func fastSketch(features []uint64, salts *sketchSalts) Sketch {
	var s Sketch
	for i := range s {
		s[i] = math.MaxUint32
	}
	if len(features) == 0 {
		return s
	}
	const allBins = 1<<sketchSize - 1
	var filled uint64 // bit i: bin i holds a value
	for r := 0; r < sketchSize && filled != allBins; r++ {
		a, round := salts[r], uint32(r)<<24
		for _, f := range features {
			g := f * a
			bin := g >> 58
			s[bin] = min(s[bin], round|uint32(g>>34)&(1<<24-1))
			filled |= 1 << bin
		}
	}
	for r := sketchSize; r < sketchRounds && filled != allBins; r++ {
		// a + k·b (mod 64) with b odd visits every bin once in 64 steps
		a, round, k := salts[r], uint32(r)<<24, uint64(r-sketchSize)
		for _, f := range features {
			p := f * salts[sketchRounds]
			bin := (p>>58 + k*(p>>52|1)) & (sketchSize - 1)
			s[bin] = min(s[bin], round|uint32((f*a)>>34)&(1<<24-1))
			filled |= 1 << bin
		}
	}
	return s
}

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
