package normalize

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// LanguageDetector names the ISO 639-1 language of a text, or "" when it
// cannot tell. Implementations must be safe for concurrent use.
type LanguageDetector interface {
	Detect(text string) string
}

// DefaultLanguages are the languages the detector considers unless
// configured otherwise: the languages of the wires newswire is built for.
// The model file holds the n-grams of those among them that share a
// script (SupportedLanguages lists what can be configured).
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

// scriptGroup is a script shared by several languages: the script of a
// text narrows the candidates to the group's, which is both faster (the
// work grows with the candidates) and more accurate (no Latin language
// can win on a Cyrillic text).
type scriptGroup int

const (
	groupNone scriptGroup = iota
	groupLatin
	groupCyrillic
	groupArabic
	groups
)

// cyrillicLanguages and arabicLanguages are the languages written in those
// scripts; every other supported language is either Latin or owns its
// script (scriptLanguage).
var (
	cyrillicLanguages = map[string]bool{"ru": true, "uk": true, "be": true, "bg": true, "sr": true, "kk": true, "mk": true, "mn": true}
	arabicLanguages   = map[string]bool{"ar": true, "fa": true, "ur": true}
	ownScript         = map[string]bool{"ja": true, "ko": true, "zh": true, "el": true, "he": true, "th": true, "ka": true, "hy": true, "hi": true, "mr": true, "bn": true, "gu": true, "pa": true, "ta": true, "te": true}
)

func groupOf(code string) scriptGroup {
	switch {
	case cyrillicLanguages[code]:
		return groupCyrillic
	case arabicLanguages[code]:
		return groupArabic
	case ownScript[code]:
		return groupNone
	}
	return groupLatin
}

// ScriptDetector is the fallback used when no n-gram detector is
// configured: it names only languages that own their script.
type ScriptDetector struct{}

// Detect implements LanguageDetector.
func (ScriptDetector) Detect(text string) string {
	lang, _, _ := scriptLanguage(detectionSample(text))
	return lang
}

// detectionSample keeps the first detectRunes runes of the words of
// text, leaving out links, addresses, hashtags and mentions, which are
// Latin in every language and pull Cyrillic posts towards English. It
// reads no further than the sample needs.
func detectionSample(text string) string {
	var b strings.Builder
	n := 0
	for n < detectRunes && text != "" {
		i := strings.IndexFunc(text, isSpace)
		var field string
		if i < 0 {
			field, text = text, ""
		} else {
			field = text[:i]
			_, size := utf8.DecodeRuneInString(text[i:])
			text = text[i+size:]
		}
		if field == "" || notWords(field) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		for j := range field {
			if n == detectRunes {
				field = field[:j]
				break
			}
			n++
		}
		b.WriteString(field)
	}
	return b.String()
}

// notWords reports fields that say nothing about the language: links,
// e-mail addresses, hashtags and mentions.
func notWords(field string) bool {
	if field[0] == '#' || field[0] == '@' {
		return true
	}
	if len(field) > 4 && (strings.EqualFold(field[:4], "www.") || strings.EqualFold(field[:4], "http")) && strings.Contains(field, ".") {
		return true
	}
	at := strings.IndexByte(field, '@')
	return at > 0 && strings.Contains(field[at:], ".")
}

// scriptLanguage decides languages that a script alone identifies. It
// reports ok with "" when the text has no letters at all, and ok false
// when the script is shared by many languages: then g is the group of the
// most frequent of the shared scripts.
func scriptLanguage(s string) (lang string, g scriptGroup, ok bool) {
	var letters, kana, hangul, han, greek, hebrew, thai, georgian, armenian, devanagari int
	var shared [groups]int
	for _, r := range s {
		switch {
		case r < 0x80:
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				letters++
				shared[groupLatin]++
			}
			continue
		case 0x0400 <= r && r < 0x0530:
			letters++
			shared[groupCyrillic]++
			continue
		case !unicode.IsLetter(r):
			continue
		}
		letters++
		switch {
		case unicode.Is(unicode.Latin, r):
			shared[groupLatin]++
		case unicode.Is(unicode.Cyrillic, r):
			shared[groupCyrillic]++
		case unicode.Is(unicode.Arabic, r):
			shared[groupArabic]++
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
		return "", groupNone, true
	}
	half := letters / 2
	switch {
	case kana > 0 && kana+han > half:
		return "ja", groupNone, true // Japanese mixes kana into Han; Chinese never does
	case hangul > half:
		return "ko", groupNone, true
	case han > half:
		return "zh", groupNone, true
	case greek > half:
		return "el", groupNone, true
	case hebrew > half:
		return "he", groupNone, true
	case thai > half:
		return "th", groupNone, true
	case georgian > half:
		return "ka", groupNone, true
	case armenian > half:
		return "hy", groupNone, true
	case devanagari > half:
		return "hi", groupNone, true
	}
	g = groupLatin
	for _, c := range []scriptGroup{groupCyrillic, groupArabic} {
		if shared[c] > shared[g] {
			g = c
		}
	}
	if shared[g] == 0 {
		return "", groupNone, true // letters of scripts no rule or group knows
	}
	return "", g, false
}

// russianLetters reports Cyrillic text that only Russian spells: it has ы
// or э, which Ukrainian, Bulgarian, Serbian and Macedonian lack, and none
// of the letters of the other languages that have them (Belarusian ў і,
// Kazakh ә ғ қ ң ө ұ ү һ і, Mongolian ө ү) nor of Ukrainian, Serbian or
// Macedonian. Most Russian posts are decided here, at a small fraction of
// what the n-gram lookups cost.
func russianLetters(s string) bool {
	russian := false
	for _, r := range s {
		switch unicode.ToLower(r) {
		case 'ы', 'э':
			russian = true
		case 'ў', 'і', 'ї', 'є', 'ґ', 'ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'һ',
			'ђ', 'ј', 'љ', 'њ', 'ћ', 'џ', 'ѓ', 'ќ', 'ѕ':
			return false
		}
	}
	return russian
}

// maxLangTag bounds a declared language tag; RFC 5646 advises 35
// characters as the longest tag an implementation need keep.
const maxLangTag = 35

// LangTag normalizes a declared language to a BCP 47 tag in its
// conventional case ("en-gb" → "en-GB", "pt_BR" → "pt-BR", "ZH-hant-tw"
// → "zh-Hant-TW"). The region stays: it is what the source said. Compare
// languages with PrimaryLanguage, never the tags: "en-GB" and "en-US" are
// one language. A value that is not a tag (wrong characters, a primary
// subtag that is not 2–3 letters, over 35 characters) gives "", so that
// the normalizer detects the language instead.
func LangTag(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxLangTag {
		return ""
	}
	b := make([]byte, 0, len(s))
	start := 0 // of the current subtag in b
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '-' && s[i] != '_' {
			c := s[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return ""
			}
			b = append(b, c)
			continue
		}
		sub := b[start:]
		if len(sub) == 0 || len(sub) > 8 {
			return ""
		}
		switch {
		case start == 0:
			if len(sub) < 2 || len(sub) > 3 || !allLetters(sub) {
				return ""
			}
			lowerASCII(sub)
		case len(sub) == 4 && allLetters(sub) && start > 0:
			lowerASCII(sub) // script: "Hant"
			sub[0] -= 'a' - 'A'
		case len(sub) == 2 && allLetters(sub), len(sub) == 3 && !allLetters(sub):
			upperASCII(sub) // region: "GB", "419"
		default:
			lowerASCII(sub)
		}
		if i < len(s) {
			b = append(b, '-')
			start = len(b)
		}
	}
	return string(b)
}

// PrimaryLanguage is the primary language subtag of a tag, lower case:
// "en" for "en-GB", "pt_BR" or "EN". Languages are compared, and stemmers
// chosen, by it.
func PrimaryLanguage(tag string) string {
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	return strings.ToLower(strings.TrimSpace(tag))
}

// SameLanguage reports whether two tags name one language, whatever their
// regions or scripts.
func SameLanguage(a, b string) bool {
	return PrimaryLanguage(a) == PrimaryLanguage(b)
}

func allLetters(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

func upperASCII(b []byte) {
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
}
