package normalize

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// modelData is the language model: character unigrams, bigrams and
// trigrams of each modelled language, converted from lingua-go's models
// by `make langmodel` (langmodel/README.md has the source, licence and
// format).
//
//go:embed langmodel/ngrams.txt.gz
var modelData []byte

// Costs of the detector, in the model's unit (0.1 nat, see
// langmodel/README.md): a letter is scored by its trigram, or, where the
// language has none, by its bigram plus backoffCost, or by its unigram
// plus twice that; a letter the language never uses costs unseenCost.
const (
	backoffCost = 25  // ≈ ×0.08 per step down
	unseenCost  = 250 // ≈ 1.4e-11
	absent      = 255 // no such n-gram in this language
)

// maxGroupLanguages bounds the candidates of one script group, so that
// the scores of a detection fit on the stack.
const maxGroupLanguages = 64

// NGramDetector detects languages with a naive-Bayes model of character
// trigrams (a Markov chain over the letters of each word, with backoff to
// bigrams and unigrams), after script rules settle the scripts that
// belong to one language, over the configured languages of the text's
// script group. It holds only the configured languages' n-grams.
type NGramDetector struct {
	// group holds each script group's model; nil where the group has
	// fewer than two configured languages, and then only names the one.
	group   [groups]*groupModel
	only    [groups]string
	allowed map[string]bool
}

// groupModel is the n-gram table of one script group's candidates:
// index maps an n-gram (ngramKey) to the start of its row in cost, one
// byte per candidate, absent where that language lacks the n-gram.
type groupModel struct {
	group scriptGroup
	langs []string
	index map[uint64]uint32
	cost  []uint8
}

// ModelLanguages are the languages the model file holds, from its
// "languages" line.
func ModelLanguages() []string {
	zr, err := gzip.NewReader(bytes.NewReader(modelData))
	if err != nil {
		panic("normalize: embedded language model: " + err.Error()) // a build defect; TestModelFile reads it
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if langs, ok := strings.CutPrefix(sc.Text(), "languages "); ok {
			return strings.Split(langs, ",")
		}
	}
	panic("normalize: embedded language model has no languages line")
}

// scriptRuleLanguages are the languages that own their script: the script
// rules name them, no model is needed.
var scriptRuleLanguages = []string{"el", "he", "hi", "hy", "ja", "ka", "ko", "th", "zh"}

// SupportedLanguages lists, sorted, the ISO 639-1 codes the detector can
// be configured with: the model's languages and those script rules tell.
func SupportedLanguages() []string {
	out := append(ModelLanguages(), scriptRuleLanguages...)
	slices.Sort(out)
	return slices.Compact(out)
}

// NewNGramDetector builds a detector over the given ISO 639-1 codes.
func NewNGramDetector(codes []string) (*NGramDetector, error) {
	modelled := ModelLanguages()
	var byGroup [groups][]string
	allowed := make(map[string]bool)
	for _, c := range codes {
		c = strings.ToLower(strings.TrimSpace(c))
		if allowed[c] {
			continue
		}
		if !slices.Contains(modelled, c) && !slices.Contains(scriptRuleLanguages, c) {
			return nil, fmt.Errorf("%w: %q is not supported (supported: %s)", ErrLanguages, c, strings.Join(SupportedLanguages(), ", "))
		}
		allowed[c] = true
		if g := groupOf(c); g != groupNone {
			byGroup[g] = append(byGroup[g], c)
		}
	}
	if len(allowed) < 2 {
		// one language needs no detector at all
		return nil, fmt.Errorf("%w: need at least two languages", ErrLanguages)
	}
	d := &NGramDetector{allowed: allowed}
	var load []*groupModel
	for g := groupLatin; g < groups; g++ {
		switch langs := byGroup[g]; len(langs) {
		case 0:
		case 1:
			d.only[g] = langs[0]
		default:
			if len(langs) > maxGroupLanguages {
				return nil, fmt.Errorf("%w: more than %d languages of one script", ErrLanguages, maxGroupLanguages)
			}
			// about 5,500 distinct n-grams a language (measured): one map
			// allocation rather than a growing one
			d.group[g] = &groupModel{group: g, langs: langs, index: make(map[uint64]uint32, 5500*len(langs))}
			load = append(load, d.group[g])
		}
	}
	if err := loadModels(load); err != nil {
		return nil, err
	}
	return d, nil
}

// loadModels fills the groups' tables from the model file, in one pass.
func loadModels(ms []*groupModel) error {
	if len(ms) == 0 {
		return nil
	}
	type place struct {
		m   *groupModel
		col int
	}
	where := map[string]place{}
	for _, m := range ms {
		for i, l := range m.langs {
			where[l] = place{m, i}
		}
	}
	var err error
	forEachModelLine(func(lang, gram string, q int) bool {
		p, ok := where[lang]
		if !ok {
			return false
		}
		key, ok := ngramKey(gram)
		if !ok || q < 0 || q >= absent {
			err = fmt.Errorf("normalize: language model: bad n-gram %q %d of %s", gram, q, lang)
			return true
		}
		m := p.m
		row, ok := m.index[key]
		if !ok {
			row = uint32(len(m.cost))
			m.index[key] = row
			for range m.langs {
				m.cost = append(m.cost, absent)
			}
		}
		m.cost[int(row)+p.col] = uint8(q)
		return false
	})
	return err
}

// forEachModelLine calls f for every n-gram line of the model file with
// its language, until f returns true.
func forEachModelLine(f func(lang, gram string, q int) bool) {
	zr, err := gzip.NewReader(bytes.NewReader(modelData))
	if err != nil {
		panic("normalize: embedded language model: " + err.Error()) // a build defect; TestModelFile reads it
	}
	sc := bufio.NewScanner(zr)
	lang := ""
	for sc.Scan() {
		line := sc.Text()
		gram, qs, ok := strings.Cut(line, " ")
		switch {
		case !ok || strings.HasPrefix(line, "#"):
		case gram == "lang":
			lang = qs
		case gram == "languages":
		default:
			q, err := strconv.Atoi(qs)
			if err != nil {
				q = -1 // refused by loadModels
			}
			if f(lang, gram, q) {
				return
			}
		}
	}
	if err := sc.Err(); err != nil {
		panic("normalize: embedded language model: " + err.Error())
	}
}

// ngramKey packs the one to three runes of an n-gram, 21 bits each,
// right-aligned: letters are never 0, so the three lengths never collide.
func ngramKey(gram string) (uint64, bool) {
	var key uint64
	n := 0
	for _, r := range gram {
		if r == utf8.RuneError || r == 0 {
			return 0, false
		}
		key = key<<21 | uint64(r)
		n++
	}
	return key, n >= 1 && n <= 3
}

// Detect implements LanguageDetector.
func (d *NGramDetector) Detect(text string) string {
	sample := detectionSample(text)
	lang, g, ok := scriptLanguage(sample)
	if ok {
		if lang == "" || d.allowed[lang] {
			return lang
		}
		return ""
	}
	m := d.group[g]
	if m == nil {
		return d.only[g] // "" when no configured language writes this script
	}
	if g == groupCyrillic && d.allowed["ru"] && russianLetters(sample) {
		return "ru"
	}
	return m.detect(sample)
}

// detect scores every word of the group's script in s and names the
// candidate whose model gives the text the highest probability, or ""
// when no word of the script was seen.
func (m *groupModel) detect(s string) string {
	var costs [maxGroupLanguages]int32
	n := len(m.langs)
	var word [3]rune // the last three letters, word[2] the newest
	length := 0      // letters of the current word so far
	inScript := true // every letter of the current word is of the group's script
	scored := false
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			continue // combining marks: lingua's models hold none
		}
		if !unicode.IsLetter(r) {
			length, inScript = 0, true
			continue
		}
		r = unicode.ToLower(r)
		word[0], word[1], word[2] = word[1], word[2], r
		length++
		if !inScript || !m.group.writes(r) {
			inScript = false
			continue
		}
		scored = true
		m.score(&costs, word, length)
	}
	if !scored {
		return ""
	}
	best := 0
	for i := 1; i < n; i++ {
		if costs[i] < costs[best] {
			best = i
		}
	}
	return m.langs[best]
}

// score adds to costs what each candidate pays for the newest letter of
// word given up to two letters before it.
func (m *groupModel) score(costs *[maxGroupLanguages]int32, word [3]rune, length int) {
	n := len(m.langs)
	tri, bi, uni := m.rows(word, length)
	for i := 0; i < n; i++ {
		switch {
		case tri != nil && tri[i] != absent:
			costs[i] += int32(tri[i])
		case bi != nil && bi[i] != absent:
			costs[i] += int32(bi[i]) + backoffBelow(length, 2)
		case uni != nil && uni[i] != absent:
			costs[i] += int32(uni[i]) + backoffBelow(length, 1)
		default:
			costs[i] += unseenCost
		}
	}
}

// backoffBelow is the penalty for scoring a letter by an n-gram of order
// n when its word offered a longer one.
func backoffBelow(length, n int) int32 {
	return int32(min(length, 3)-n) * backoffCost
}

// rows looks up the n-gram rows the newest letter of word can use: the
// trigram (from the third letter of a word on), the bigram, the unigram.
// Lower orders are looked up only when the higher one is missing for
// some candidate.
func (m *groupModel) rows(word [3]rune, length int) (tri, bi, uni []uint8) {
	n := len(m.langs)
	row := func(key uint64) []uint8 {
		if i, ok := m.index[key]; ok {
			return m.cost[i : int(i)+n]
		}
		return nil
	}
	complete := func(r []uint8) bool { return r != nil && !slices.Contains(r, absent) }
	if length >= 3 {
		if tri = row(uint64(word[0])<<42 | uint64(word[1])<<21 | uint64(word[2])); complete(tri) {
			return tri, nil, nil
		}
	}
	if length >= 2 {
		if bi = row(uint64(word[1])<<21 | uint64(word[2])); complete(bi) {
			return tri, bi, nil
		}
	}
	return tri, bi, row(uint64(word[2]))
}

// writes reports whether r is a letter of the group's script.
func (g scriptGroup) writes(r rune) bool {
	switch g {
	case groupLatin:
		return r < 0x80 || unicode.Is(unicode.Latin, r)
	case groupCyrillic:
		return 0x0400 <= r && r < 0x0530 || unicode.Is(unicode.Cyrillic, r)
	case groupArabic:
		return unicode.Is(unicode.Arabic, r)
	}
	return false
}
