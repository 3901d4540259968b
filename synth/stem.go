package synth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/arabic"
	"github.com/blevesearch/snowballstem/danish"
	"github.com/blevesearch/snowballstem/dutch"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/finnish"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/hungarian"
	"github.com/blevesearch/snowballstem/irish"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/norwegian"
	"github.com/blevesearch/snowballstem/portuguese"
	"github.com/blevesearch/snowballstem/romanian"
	"github.com/blevesearch/snowballstem/russian"
	"github.com/blevesearch/snowballstem/spanish"
	"github.com/blevesearch/snowballstem/swedish"
	"github.com/blevesearch/snowballstem/tamil"
	"github.com/blevesearch/snowballstem/turkish"
)

// script is the writing system a stemmer works on.
type script uint8

const (
	noScript script = iota
	latin
	cyrillic
	arabicScript
	tamilScript
)

// snowballAlgo is one Snowball stemmer and the script its words are in.
type snowballAlgo struct {
	stem   func(*snowballstem.Env) bool
	script script
}

// snowballLanguages maps ISO 639-1 codes to the Snowball stemmers
// (snowballstem.org, compiled to Go by the Snowball project and kept by
// the bleve search engine).
var snowballLanguages = map[string]snowballAlgo{
	"ar": {arabic.Stem, arabicScript},
	"da": {danish.Stem, latin},
	"de": {german.Stem, latin},
	"en": {english.Stem, latin},
	"es": {spanish.Stem, latin},
	"fi": {finnish.Stem, latin},
	"fr": {french.Stem, latin},
	"ga": {irish.Stem, latin},
	"hu": {hungarian.Stem, latin},
	"it": {italian.Stem, latin},
	"nb": {norwegian.Stem, latin},
	"nl": {dutch.Stem, latin},
	"nn": {norwegian.Stem, latin},
	"no": {norwegian.Stem, latin},
	"pt": {portuguese.Stem, latin},
	"ro": {romanian.Stem, latin},
	"ru": {russian.Stem, cyrillic},
	"sv": {swedish.Stem, latin},
	"ta": {tamil.Stem, tamilScript},
	"tr": {turkish.Stem, latin},
}

// scriptDefault is the stemmer for a word whose entry's language is
// unknown, has no stemmer, or is written in another script (a Latin brand
// name in a Russian post). A word must stem the same way in every entry
// that holds it, or stories lose the entries whose language detection
// wavered, so each script has one fallback: English for Latin (the
// language most Latin-script wires are in), Russian for Cyrillic (close
// enough for Ukrainian and Belarusian endings), Arabic for Arabic script.
var scriptDefault = map[script]string{latin: "en", cyrillic: "ru", arabicScript: "ar", tamilScript: "ta"}

// maxStemCache bounds the cache of stems; a full cache is dropped and
// refilled, which changes speed only, never a stem.
const maxStemCache = 1 << 16

// stemmer stems lower-cased words by the language of the entry they come
// from. It caches what it computed by word: a stream repeats its words,
// and one map lookup costs a fraction of choosing and running the
// algorithm. Not safe for concurrent use; the clusterer owns one.
type stemmer struct {
	env   *snowballstem.Env
	cache map[string]*stemmed
	// slab hands out cache entries a block at a time: one allocation per
	// 512 new words instead of one per word.
	slab []stemmed
}

// stemmed is a cached stem and the entry language it was made for; drop
// marks a word that is no term at all (a stopword, a lone letter). df is
// the clusterer's document-frequency entry for the stem when it has been
// looked up (and not forgotten since), so that a word seen before costs
// one lookup for its stem and its frequency together.
type stemmed struct {
	lang, stem string
	// word is the word itself, which a story's keywords show rather than
	// the stem ("bankruptcy", not "bankruptci").
	word string
	drop bool
	df   *docFreq
	// post is the clusterer's posting list for the stem, as df is its
	// frequency entry (see Clusterer.postingsOf).
	post *postList
}

func newStemmer() *stemmer {
	return &stemmer{env: snowballstem.NewEnv(""), cache: make(map[string]*stemmed)}
}

// primaryLanguage reduces a language tag to its primary subtag, as the
// stemmers are chosen by it: feeds declare "de-DE", "pt_BR" or "en-us".
func primaryLanguage(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(tag)
		}
	}
	return tag
}

// algorithm picks the stemmer code for a word of the given script in an
// entry of language lang, or "" when none applies.
func algorithm(lang string, s script) string {
	if a, ok := snowballLanguages[lang]; ok && a.script == s {
		return lang
	}
	return scriptDefault[s]
}

// stem returns the stem of the lower-cased word w from an entry in
// language lang (ISO 639-1, may be empty). Words with digits (figures,
// codes) and words in scripts without a stemmer are returned as they are.
func (st *stemmer) stem(lang, w string) string { return st.lookup(lang, w).stem }

// written is the cache entry of the term a word of an entry in language
// lang stands for, as the text writes it, or nil for a word that is no
// term (see keep). One lookup answers both for a word seen before in the
// same case, without lowering it (lowering Cyrillic or Greek text builds a
// new string). A capitalised word is cached under both forms; they share
// one entry, so nothing else changes.
func (st *stemmer) written(lang, w string) *stemmed {
	c, ok := st.cache[w]
	if !ok || c.lang != lang {
		lw := strings.ToLower(w)
		c = st.lookup(lang, lw)
		if lw != w && len(st.cache) < maxStemCache {
			st.cache[strings.Clone(w)] = c
		}
	}
	if c.drop {
		return nil
	}
	return c
}

func (st *stemmer) lookup(lang, w string) *stemmed {
	if c, ok := st.cache[w]; ok && c.lang == lang {
		return c
	}
	// w is a slice of an entry's text: a copy keeps the cache (and the
	// terms made from it) from holding whole texts alive.
	w = strings.Clone(w)
	if len(st.slab) == cap(st.slab) {
		st.slab = make([]stemmed, 0, 512)
	}
	st.slab = append(st.slab, stemmed{lang: lang, word: w, drop: !keep(w)})
	c := &st.slab[len(st.slab)-1]
	if c.drop {
		c.stem = w
	} else {
		c.stem = st.compute(lang, w)
	}
	if len(st.cache) >= maxStemCache {
		clear(st.cache)
	}
	st.cache[w] = c
	return c
}

func (st *stemmer) compute(lang, w string) string {
	if strings.IndexFunc(w, unicode.IsDigit) >= 0 {
		return w
	}
	code := algorithm(lang, scriptOf(w))
	if code == "" {
		return w
	}
	in := w
	if code == "ru" {
		in = strings.ReplaceAll(in, "ё", "е")
	}
	st.env.SetCurrent(in)
	snowballLanguages[code].stem(st.env)
	if out := st.env.Current(); utf8.RuneCountInString(out) >= 2 {
		return out
	}
	return in // a stem of one letter matches too much
}

// scriptOf is the script of a word's first letter.
func scriptOf(w string) script {
	for _, r := range w {
		switch {
		case r < 0x80 || unicode.Is(unicode.Latin, r):
			return latin
		case unicode.Is(unicode.Cyrillic, r):
			return cyrillic
		case unicode.Is(unicode.Arabic, r):
			return arabicScript
		case unicode.Is(unicode.Tamil, r):
			return tamilScript
		default:
			return noScript
		}
	}
	return noScript
}
