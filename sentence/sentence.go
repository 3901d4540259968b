// Package sentence finds where sentences end in wire text of any
// language: a stop that ends an abbreviation ("U.S.", "Dr.", "z.B.",
// "т.е."), an initial ("J. Smith"), a number ("No. 5", "3.5", "am 3.
// Oktober") or a name written with dots ("S.T.A.L.K.E.R.") does not.
//
// It is a heuristic for headlines and briefs, not a linguistic parser:
// where it cannot tell, it keeps the sentence whole, for a sentence cut
// in two reads worse than two sentences read as one.
package sentence

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Split returns the sentences of text, trimmed, in order. A line break
// ends a sentence too: wire posts put one thought on a line.
func Split(text string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if r == '\n' {
			emit(i + size)
		} else if end, ok := EndAt(text, i); ok {
			emit(end)
			i = end
			continue
		}
		i += size
	}
	emit(len(text))
	return out
}

// EndAt reports whether the rune at byte i of text ends a sentence, and
// if so where the sentence ends: after the stop and any closing quotes
// or brackets that follow it.
func EndAt(text string, i int) (end int, ok bool) {
	r, size := utf8.DecodeRuneInString(text[i:])
	switch r {
	case '。', '！', '？', '؟', '।':
		return i + size, true // scripts that end sentences without a space
	case '.', '!', '?', '…':
	default:
		return 0, false
	}
	j := i + size
	for j < len(text) { // "…!?" and "..." are one stop
		n, s := utf8.DecodeRuneInString(text[j:])
		if n != '.' && n != '!' && n != '?' && n != '…' {
			break
		}
		j += s
	}
	for j < len(text) {
		n, s := utf8.DecodeRuneInString(text[j:])
		if !closing(n) {
			break
		}
		j += s
	}
	if j == len(text) {
		return j, true
	}
	if n, _ := utf8.DecodeRuneInString(text[j:]); !unicode.IsSpace(n) {
		return 0, false // inside a token: "3.5", "example.com", "S.T.A.L.K.E.R"
	}
	next := nextWord(text[j:])
	if first, _ := utf8.DecodeRuneInString(next); unicode.IsLower(first) {
		return 0, false // "etc. and", "S.T.A.L.K.E.R. вышел"
	}
	if r == '.' && j == i+size && abbreviation(wordBefore(text[:i]), next) {
		return 0, false
	}
	return j, true
}

func closing(r rune) bool {
	switch r {
	case '"', '\'', '”', '’', '»', '›', ')', ']', '}', '」', '』':
		return true
	}
	return false
}

// nextWord is the word after the spaces that start s, without opening
// quotes or brackets.
func nextWord(s string) string {
	s = strings.TrimLeftFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("\"'“‘«‹([{„‚", r)
	})
	if k := strings.IndexFunc(s, unicode.IsSpace); k >= 0 {
		return s[:k]
	}
	return s
}

// wordBefore is the word that ends at the end of s, without opening
// quotes or brackets.
func wordBefore(s string) string {
	if k := strings.LastIndexFunc(s, unicode.IsSpace); k >= 0 {
		_, size := utf8.DecodeRuneInString(s[k:])
		s = s[k+size:]
	}
	return strings.TrimLeftFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// abbreviation reports whether word, followed by a stop and then by
// next, is an abbreviation rather than a sentence's last word.
func abbreviation(word, next string) bool {
	if word == "" {
		return false
	}
	if strings.Contains(word, ".") {
		// "U.S", "S.T.A.L.K.E.R", "z.B", "т.е", "e.g": dotted short parts.
		// "example.com" has a long part and ends a sentence.
		for _, part := range strings.Split(word, ".") {
			if utf8.RuneCountInString(part) > 3 {
				return false
			}
		}
		return true
	}
	if r, size := utf8.DecodeRuneInString(word); size == len(word) && unicode.IsUpper(r) {
		return true // an initial: "J. Smith", "А. С. Пушкин"
	}
	nextDigit := next != "" && unicode.IsDigit([]rune(next)[0])
	lower := strings.ToLower(word)
	if numberAbbrevs[lower] {
		return nextDigit // "No. 5", "Nr. 12", "p. 4"; "said no." ends
	}
	if titleAbbrevs[lower] {
		return true
	}
	if isDigits(word) && utf8.RuneCountInString(word) <= 2 && months[strings.ToLower(strings.TrimRight(next, ".,;:"))] {
		return true // a German ordinal date: "am 3. Oktober"
	}
	return false
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// numberAbbrevs end a sentence unless a number follows them.
var numberAbbrevs = set("no", "nos", "nr", "nº", "n°", "p", "pp", "vol", "art", "fig", "ch", "sec", "op", "abs", "bd", "s", "стр", "ст", "п", "ч")

// titleAbbrevs are words that, with a stop, do not end a sentence even
// when a capital follows: titles before names, places, months, and
// shortenings that stand before a noun. Words that often end a sentence
// ("etc.", "Inc.", "млн.", "и др.") are not here: when they stand
// mid-sentence, a lower-case word follows them, and that is enough.
var titleAbbrevs = set(
	// English
	"mr", "mrs", "ms", "dr", "prof", "sr", "st", "mt", "ft", "gen", "col", "lt", "sgt", "capt", "cmdr", "adm",
	"gov", "sen", "rep", "rev", "pres", "hon", "supt", "insp", "vs", "approx", "dept", "univ",
	"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "ca", "cf",
	// German
	"hr", "fr", "frl", "str", "bzw", "vgl", "ggf", "evtl", "inkl", "exkl", "zzgl", "allg", "sog", "bzgl",
	// French, Spanish, Portuguese, Italian
	"mme", "mlle", "mm", "sra", "srta", "dra", "sres", "av", "pág", "sig", "dott", "ing", "avv",
	// Russian and Ukrainian
	"г", "ул", "им", "проф", "акад", "ген", "см", "рис", "обл", "пос", "тов",
)

// months follow a German ordinal ("3. Oktober") without ending a sentence.
var months = set("januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
