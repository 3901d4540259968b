package normalize

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	lingua "github.com/pemistahl/lingua-go"
)

// LanguageDetector names the ISO 639-1 language of a text, or "" when it
// cannot tell. Implementations must be safe for concurrent use.
type LanguageDetector interface {
	Detect(text string) string
}

// DefaultLanguages are the languages the detector considers unless
// configured otherwise: the languages of the wires newswire is built for.
// Each one costs about 0.8 MiB of trigram model (measured, see README).
func DefaultLanguages() []string {
	return []string{
		"en", "ru", "uk", "be", "bg", "sr", "kk", "fr", "de", "es", "pt", "it", "nl",
		"pl", "tr", "ar", "fa", "ur", "he", "zh", "ja", "ko", "hi", "sw", "id",
	}
}

// ErrLanguages reports a language list the detector cannot use.
var ErrLanguages = errors.New("normalize: languages")

// detectRunes bounds the text a detection reads: trigram statistics settle
// well within a few hundred letters, and the cost grows with the length.
const detectRunes = 160

// Lingua detects languages with lingua-go in its low-accuracy (trigram)
// mode, after script rules settle the scripts that belong to one language.
type Lingua struct {
	det     lingua.LanguageDetector
	allowed map[string]bool
}

// NewLingua builds a detector over the given ISO 639-1 codes; the models
// load eagerly so that the first entries are not slow.
func NewLingua(codes []string) (*Lingua, error) {
	var langs []lingua.Language
	allowed := make(map[string]bool)
	for _, c := range codes {
		c = strings.ToLower(strings.TrimSpace(c))
		iso := lingua.GetIsoCode639_1FromValue(c)
		if iso == lingua.UnknownIsoCode639_1 {
			return nil, fmt.Errorf("%w: unknown ISO 639-1 code %q", ErrLanguages, c)
		}
		l := lingua.GetLanguageFromIsoCode639_1(iso)
		if !allowed[c] {
			langs = append(langs, l)
			allowed[c] = true
		}
	}
	if len(langs) < 2 {
		// lingua panics on fewer; one language needs no detector at all
		return nil, fmt.Errorf("%w: need at least two languages", ErrLanguages)
	}
	det := lingua.NewLanguageDetectorBuilder().FromLanguages(langs...).
		WithLowAccuracyMode().WithPreloadedLanguageModels().Build()
	return &Lingua{det: det, allowed: allowed}, nil
}

// Detect implements LanguageDetector.
func (d *Lingua) Detect(text string) string {
	sample := detectionSample(text)
	if lang, ok := scriptLanguage(sample); ok {
		if lang == "" || d.allowed[lang] {
			return lang
		}
	}
	l, ok := d.det.DetectLanguageOf(sample)
	if !ok {
		return ""
	}
	return strings.ToLower(l.IsoCode639_1().String())
}

// ScriptDetector is the fallback used when no library detector is
// configured: it names only languages that own their script.
type ScriptDetector struct{}

// Detect implements LanguageDetector.
func (ScriptDetector) Detect(text string) string {
	lang, _ := scriptLanguage(detectionSample(text))
	return lang
}

var urlLike = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.]+|[#@]\w+`)

// detectionSample drops links, addresses, hashtags and mentions, which are
// Latin in every language and pull Cyrillic posts towards English, and
// keeps the first detectRunes runes.
func detectionSample(text string) string {
	text = urlLike.ReplaceAllString(text, " ")
	n := 0
	for i := range text {
		if n == detectRunes {
			return text[:i]
		}
		n++
	}
	return text
}

// scriptLanguage decides languages that a script alone identifies. It
// reports ok with "" when the text has no letters at all, and ok false
// when the script is shared by many languages (Latin, Cyrillic, Arabic).
func scriptLanguage(s string) (string, bool) {
	var letters, kana, hangul, han, greek, hebrew, thai, georgian, armenian, devanagari int
	for _, r := range s {
		if !unicode.IsLetter(r) {
			continue
		}
		letters++
		switch {
		case unicode.In(r, unicode.Hiragana, unicode.Katakana):
			kana++
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.Is(unicode.Greek, r):
			greek++
		case unicode.Is(unicode.Hebrew, r):
			hebrew++
		case unicode.Is(unicode.Thai, r):
			thai++
		case unicode.Is(unicode.Georgian, r):
			georgian++
		case unicode.Is(unicode.Armenian, r):
			armenian++
		case unicode.Is(unicode.Devanagari, r):
			devanagari++
		}
	}
	if letters == 0 {
		return "", true
	}
	half := letters / 2
	switch {
	case kana > 0 && kana+han > half:
		return "ja", true // Japanese mixes kana into Han; Chinese never does
	case hangul > half:
		return "ko", true
	case han > half:
		return "zh", true
	case greek > half:
		return "el", true
	case hebrew > half:
		return "he", true
	case thai > half:
		return "th", true
	case georgian > half:
		return "ka", true
	case armenian > half:
		return "hy", true
	case devanagari > half:
		return "hi", true
	}
	return "", false
}
