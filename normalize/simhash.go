package normalize

import (
	"hash/fnv"
	"math/bits"
)

// SimHash is the 64-bit SimHash (Charikar 2002) of a text's word shingles
// of the given size (words taken w at a time; shorter texts use single words).
func SimHash(toks []string, w int) uint64 {
	if len(toks) == 0 {
		return 0
	}
	if w < 1 || len(toks) < w {
		w = 1
	}
	var v [64]int
	h := fnv.New64a()
	for i := 0; i+w <= len(toks); i++ {
		h.Reset()
		for j := i; j < i+w; j++ {
			h.Write([]byte(toks[j]))
			h.Write([]byte{0})
		}
		x := mix64(h.Sum64())
		for b := 0; b < 64; b++ {
			if x&(1<<uint(b)) != 0 {
				v[b]++
			} else {
				v[b]--
			}
		}
	}
	var out uint64
	for b := 0; b < 64; b++ {
		if v[b] > 0 {
			out |= 1 << uint(b)
		}
	}
	return out
}

// mix64 spreads FNV's weak low bits (splitmix64 finaliser).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// SimHashFeatures is the 64-bit SimHash of already hashed features: bit b
// is set when more than half of the features have it. The per-bit counts
// are kept bit-sliced, counter bit j of all 64 positions in planes[j], so
// that adding a feature is a ripple-carry over a few words instead of 64
// separate increments.
func SimHashFeatures(features []uint64) uint64 {
	var planes [64]uint64
	nplanes := bits.Len(uint(len(features))) // enough for a count of every feature
	for _, x := range features {
		carry := x
		for j := 0; carry != 0; j++ {
			planes[j], carry = planes[j]^carry, planes[j]&carry
		}
	}
	// bit b is set when count_b > half; the comparison runs bit-sliced
	// too, from the top counter bit down, for all 64 positions at once
	half := uint64(len(features) / 2)
	var gt uint64
	eq := ^uint64(0) // positions whose count equals half on the bits so far
	for j := nplanes - 1; j >= 0; j-- {
		h := -(half >> uint(j) & 1) // all ones where half has bit j
		gt |= eq & planes[j] &^ h
		eq &^= planes[j] ^ h
	}
	return gt
}

// Hamming is the number of differing bits of two SimHashes.
func Hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }
