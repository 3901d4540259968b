package synth

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one term of an entry with what the clusterer needs to weigh it.
type token struct {
	term string
	// proper is true for a word written with a capital inside a sentence
	// (a name) or all in capitals (an acronym), and for numbers: the terms
	// that tell one story from another on the same topic.
	proper bool
	// capital is set for a word that starts with a capital inside a
	// sentence; in a Title Case headline that says nothing, so the caller
	// decides (see titleCase).
	capital bool
}

// titleCase reports whether most content words of a text are capitalised,
// as in "Men's Wearhouse Finally Buys Jos. A. Bank": there capitals do not
// mark names.
func titleCase(toks []token) bool {
	if len(toks) < 3 {
		return false
	}
	n := 0
	for _, t := range toks {
		if t.capital {
			n++
		}
	}
	return float64(n) >= 0.7*float64(len(toks)-1)
}

// tokenize splits text into stemmed terms. It follows the segmentation of
// package words (Unicode letters and digits form words) but keeps the case
// of each word before lowering it, because capitalisation is the cheapest
// language-independent sign of a name, and it turns runs of Han, Kana and
// Thai characters into overlapping bigrams: single ideographs are too
// ambiguous to match stories on, and bigrams are the standard index unit
// for unsegmented scripts.
func tokenize(text string, limit int, out []token) []token {
	sentenceStart := true
	var run []rune // current run of unsegmented-script characters
	flushRun := func() {
		switch {
		case len(run) == 1:
			out = append(out, token{term: string(run)})
		case len(run) > 1:
			for i := 0; i+1 < len(run); i++ {
				out = append(out, token{term: string(run[i : i+2])})
			}
		}
		run = run[:0]
	}
	start := -1
	emit := func(end int) {
		w := strings.TrimRight(text[start:end], "'’")
		start = -1
		if w == "" {
			return
		}
		first, _ := utf8.DecodeRuneInString(w)
		hasDigit := strings.IndexFunc(w, unicode.IsDigit) >= 0
		upper := unicode.IsUpper(first)
		allCaps := upper && utf8.RuneCountInString(w) >= 2 && strings.ToUpper(w) == w
		// Years and small numbers (days, counts, list lengths) are in every
		// other story; figures with three or more digits identify one.
		proper := hasDigit && !isCommonNumber(w) || allCaps
		capital := upper && !sentenceStart
		sentenceStart = false
		lw := strings.ToLower(w)
		if i := strings.IndexAny(lw, "'’"); i > 0 {
			lw = lw[:i] // possessives and elisions: "obama's" → "obama"
		}
		if !keep(lw) {
			return
		}
		out = append(out, token{term: stem(lw), proper: proper, capital: capital})
	}
	for i, r := range text {
		if limit > 0 && len(out) >= limit {
			return out
		}
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			if start >= 0 {
				emit(i)
			}
			run = append(run, unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) ||
			((r == '\'' || r == '’') && start >= 0) || (r == '.' || r == ',') && start >= 0 && isDigitAt(text, i+1) && isDigitBefore(text, i):
			// Decimal points and thousands separators stay inside numbers:
			// "1.8" and "1,800" are figures, not two tokens.
			flushRun()
			if start < 0 {
				start = i
			}
		default:
			flushRun()
			if start >= 0 {
				emit(i)
			}
			switch r {
			case '.', '!', '?', '…', ':', ';', '\n', '。', '！', '？', '؟', '"', '“', '«', '-', '–', '—', '|':
				// A capital after these starts a sentence or a quoted title.
				sentenceStart = true
			}
		}
	}
	flushRun()
	if start >= 0 {
		emit(len(text))
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

func isDigitAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	return s[i] >= '0' && s[i] <= '9'
}

func isDigitBefore(s string, i int) bool { return i > 0 && s[i-1] >= '0' && s[i-1] <= '9' }

func keep(t string) bool {
	if stopwords[t] {
		return false
	}
	n := utf8.RuneCountInString(t)
	if n >= 2 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(t)
	return r >= 0x2E80
}

// stem strips inflectional endings with a light, documented suffix
// stripper per script. No maintained stemming library is available to this
// project; light stemming (plural, possessive, case endings) recovers most
// of the recall a full stemmer gives for short news text while it cannot
// conflate unrelated words, which matters more for precision here.
func stem(t string) string {
	r, _ := utf8.DecodeRuneInString(t)
	switch {
	case r < 0x80:
		return stemLatin(t)
	case unicode.Is(unicode.Cyrillic, r):
		return stemCyrillic(t)
	case unicode.Is(unicode.Arabic, r):
		return stemArabic(t)
	}
	return t
}

// stemLatin removes English plural and verb endings (a subset of Porter's
// step 1), keeping at least three letters.
func stemLatin(t string) string {
	if t[0] >= '0' && t[0] <= '9' {
		return t
	}
	n := len(t)
	switch {
	case n > 4 && strings.HasSuffix(t, "ies"):
		return t[:n-3] + "y"
	case n > 5 && strings.HasSuffix(t, "ing"):
		return undouble(t[:n-3])
	case n > 4 && strings.HasSuffix(t, "ed") && !strings.HasSuffix(t, "eed"):
		return undouble(t[:n-2])
	case n > 4 && (strings.HasSuffix(t, "sses") || strings.HasSuffix(t, "shes") || strings.HasSuffix(t, "ches") || strings.HasSuffix(t, "xes")):
		return t[:n-2]
	case n > 3 && t[n-1] == 's' && !strings.HasSuffix(t, "ss") && !strings.HasSuffix(t, "us") && !strings.HasSuffix(t, "is"):
		return t[:n-1]
	}
	return t
}

// undouble turns "stopp" (from "stopped") into "stop" and drops a final e
// so "raised" and "raise" meet at "rais".
func undouble(t string) string {
	n := len(t)
	if n >= 4 && t[n-1] == t[n-2] && !strings.ContainsRune("lsz", rune(t[n-1])) {
		return t[:n-1]
	}
	return t
}

// Russian (and largely Ukrainian/Belarusian) inflectional endings, longest
// first: adjective, participle, noun case and verb endings.
var cyrillicEndings = func() []string {
	list := strings.Fields(`ями ами ого его ому ему ыми ими ых их ая яя ое ее ые ие ый ий ой ей ую юю ом ем ам ям ах ях ов ев ью ия ие ию иям иях ешь ет ют ут ит ат ят ла ло ли ть ти а я о е ы и у ю ь й`)
	// Longest first so that "ами" wins over "и".
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && utf8.RuneCountInString(list[j]) > utf8.RuneCountInString(list[j-1]); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
	return list
}()

// stemCyrillic removes a reflexive particle and one inflectional ending,
// keeping a stem of at least three letters: "выборов", "выборы", "выборах"
// all become "выбор".
func stemCyrillic(t string) string {
	t = strings.ReplaceAll(t, "ё", "е")
	if n := utf8.RuneCountInString(t); n > 5 && (strings.HasSuffix(t, "ся") || strings.HasSuffix(t, "сь")) {
		t = t[:len(t)-len("ся")]
	}
	for _, end := range cyrillicEndings {
		if strings.HasSuffix(t, end) && utf8.RuneCountInString(t)-utf8.RuneCountInString(end) >= 3 {
			return t[:len(t)-len(end)]
		}
	}
	return t
}

var (
	arabicPrefixes = []string{"وال", "بال", "كال", "فال", "لل", "ال", "و"}
	arabicSuffixes = []string{"ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي"}
)

// stemArabic is a light stemmer in the manner of Larkey's "light10": it
// removes the article and conjunction prefixes and common suffixes while
// at least three letters remain, and normalises alef and yeh forms.
func stemArabic(t string) string {
	t = strings.NewReplacer("أ", "ا", "إ", "ا", "آ", "ا", "ى", "ي", "ـ", "").Replace(t)
	for _, p := range arabicPrefixes {
		if strings.HasPrefix(t, p) && utf8.RuneCountInString(t)-utf8.RuneCountInString(p) >= 3 {
			t = t[len(p):]
			break
		}
	}
	for _, s := range arabicSuffixes {
		if strings.HasSuffix(t, s) && utf8.RuneCountInString(t)-utf8.RuneCountInString(s) >= 3 {
			t = t[:len(t)-len(s)]
		}
	}
	return t
}

func isCommonNumber(w string) bool {
	digits := 0
	for i := 0; i < len(w); i++ {
		if w[i] >= '0' && w[i] <= '9' {
			digits++
		} else if w[i] >= 0x80 || w[i] >= 'a' && w[i] <= 'z' || w[i] >= 'A' && w[i] <= 'Z' {
			return false // "mh370", "g7": a code, not a count
		}
	}
	if digits <= 2 {
		return true
	}
	return digits == 4 && (strings.HasPrefix(w, "19") || strings.HasPrefix(w, "20"))
}
