package synth

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/newswire/newswire/words"
)

// token is one term of an entry with what the clusterer needs to weigh it.
type token struct {
	term string
	// ref is the stemmer's cache entry for the word (nil for character
	// pairs), where the clusterer keeps the term's frequency entry.
	ref *stemmed
	// proper is true for a word written with a capital inside a sentence
	// (a name) or all in capitals (an acronym), and for numbers: the terms
	// that tell one story from another on the same topic.
	proper bool
	// capital is set for a word that starts with a capital inside a
	// sentence; in a Title Case headline that says nothing, so the caller
	// decides (see titleCase).
	capital bool
	// lower is set for a word that starts with a small letter: in a text
	// whose capitals mark names, evidence that the word is not one.
	lower bool
	// initial is set for a word that starts a sentence with a capital,
	// which says nothing of whether it is a name.
	initial bool
	// uncased is set for a word of a script without capitals (Arabic,
	// Hebrew, Devanagari; Chinese, Japanese and Thai character pairs):
	// nothing in its writing tells whether it is a name.
	uncased bool
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

// tokenize splits text into terms, stemmed by st for an entry in
// language lang (see stemmer.stem). It follows the segmentation of
// package words (Unicode letters and digits form words) but keeps the case
// of each word before lowering it, because capitalisation is the cheapest
// language-independent sign of a name, and it turns runs of Han, Kana and
// Thai characters into overlapping bigrams: single ideographs are too
// ambiguous to match stories on, and bigrams are the standard index unit
// for unsegmented scripts.
func tokenize(st *stemmer, lang, text string, limit int, out []token) (_ []token, capitals bool) {
	lang = primaryLanguage(lang)
	sentenceStart := true
	var run []rune // current run of unsegmented-script characters
	flushRun := func() {
		switch {
		case len(run) == 1:
			out = append(out, token{term: string(run), uncased: true})
		case len(run) > 1:
			for i := 0; i+1 < len(run); i++ {
				out = append(out, token{term: string(run[i : i+2]), uncased: true})
			}
		}
		run = run[:0]
	}
	start := -1
	emit := func(end int) {
		w := strings.TrimRight(text[start:end], "'’")
		start = -1
		if w == "" || len(w) > maxWordBytes {
			return
		}
		if w == "RT" && strings.HasPrefix(text[end:], " @") {
			return // a retweet's marker ("RT @user: …") is in every retweet of every event
		}
		first, _ := utf8.DecodeRuneInString(w)
		digits := hasDigit(w)
		upper := unicode.IsUpper(first)
		// Any capital shows the text is written with them, in a stopword
		// ("The") or inside a word ("iPhone") too.
		capitals = capitals || hasUpper(w)
		allCaps := upper && utf8.RuneCountInString(w) >= 2 && isUpperCase(w)
		// Years and small numbers (days, counts, list lengths) are in every
		// other story; figures with three or more digits identify one.
		proper := digits && !isCommonNumber(w) || allCaps
		capital := upper && !sentenceStart
		lower := unicode.IsLower(first)
		initial := upper && sentenceStart
		sentenceStart = false
		if i := apostrophe(w); i > 0 {
			w = w[:i] // possessives and elisions: "Obama's" → "Obama"
		}
		if ref := st.written(lang, w); ref != nil {
			uncased := !digits && !upper && !lower
			out = append(out, token{term: ref.stem, ref: ref, proper: proper, capital: capital, lower: lower, initial: initial, uncased: uncased})
		}
	}
	skip := 0 // the end of a link being skipped
	for i, r := range text {
		if limit > 0 && len(out) >= limit {
			return out, capitals
		}
		if i < skip {
			continue
		}
		if start < 0 && (r == 'h' || r == 'H' || r == 'w' || r == 'W') {
			// A link in a post's text ("https://t.co/Xy12ab", "www.bbc.co.uk")
			// names no part of the event: its pieces would be a figure-like
			// name unique to the post and "https" shared by every post.
			if n := linkLen(text[i:]); n > 0 {
				flushRun()
				skip = i + n
				sentenceStart = true
				continue
			}
		}
		if start < 0 && r == '@' {
			// An account handle ("@Reuters", "@BBCBreaking") says who posts,
			// is quoted or is answered, which posts about many events
			// share, as links do: it gives no term, like a link.
			if n := mentionLen(text[i:]); n > 0 {
				flushRun()
				skip = i + n
				continue
			}
		}
		switch {
		// Range-table lookups cost more than the rest of the loop: no Thai,
		// Han or Kana character lies below U+0E00 and no combining mark
		// (Mn) below U+0300, so most text never reaches them.
		case r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			if start >= 0 {
				emit(i)
			}
			run = append(run, unicode.ToLower(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r >= 0x0300 && start >= 0 && words.IsWordMark(r) ||
			((r == '\'' || r == '’') && start >= 0) || (r == '.' || r == ',') && start >= 0 && isDigitAt(text, i+1) && isDigitBefore(text, i):
			// Decimal points and thousands separators stay inside numbers:
			// "1.8" and "1,800" are figures, not two tokens. A combining
			// mark belongs to the word it follows and starts none.
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
	return out, capitals
}

// mentionLen is the length of the account handle s starts with
// ("@Reuters", "@user@mastodon.social", "@name.bsky.social"), or 0. A
// dot, hyphen or @ belongs to it only between handle characters, so a
// sentence's full stop does not.
func mentionLen(s string) int {
	n := 1
	for n < len(s) {
		c := s[n]
		if !isHandleByte(c) && !((c == '.' || c == '-' || c == '@') && n+1 < len(s) && isHandleByte(s[n+1])) {
			break
		}
		n++
	}
	if n == 1 {
		return 0
	}
	return n
}

func isHandleByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// linkLen is the length of the web link s starts with ("http://…",
// "https://…" or "www.…", up to the next space), or 0.
func linkLen(s string) int {
	if !hasPrefixFold(s, "https://") && !hasPrefixFold(s, "http://") && !hasPrefixFold(s, "www.") {
		return 0
	}
	if n := strings.IndexFunc(s, unicode.IsSpace); n >= 0 {
		return n
	}
	return len(s)
}

// hasPrefixFold is strings.HasPrefix ignoring ASCII case; prefix is lower case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hasDigit reports whether s holds a decimal digit of any script, as
// strings.IndexFunc(s, unicode.IsDigit) >= 0 does, without a call per
// ASCII byte.
func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			return true
		} else if c >= utf8.RuneSelf {
			return strings.IndexFunc(s[i:], unicode.IsDigit) >= 0
		}
	}
	return false
}

// isUpperCase reports whether strings.ToUpper(s) == s, without building
// the upper-case copy: every rune is its own upper case, and s is valid
// UTF-8 (ToUpper would replace a bad byte).
func isUpperCase(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || unicode.ToUpper(r) != r {
			return false
		}
		i += n
	}
	return true
}

// apostrophe is the byte offset of the first ' or ’ in s, or -1.
func apostrophe(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			return i
		case 0xE2: // ’ is E2 80 99
			if i+2 < len(s) && s[i+1] == 0x80 && s[i+2] == 0x99 {
				return i
			}
		}
	}
	return -1
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

// slugSegments calls fn with each path segment of link that is a slug:
// three or more words of letters joined by hyphens, underscores or plus
// signs, as news sites write a story's headline or keywords into its
// address ("/business/la-fi-federal-reserve-plosser-stimulus-20140310.story").
// Hosts, queries, ids and one-word segments ("politics", a channel name, a
// message number) are not slugs: they say where an item is, not what it is
// about. A segment's extension is left out. It allocates only to decode a
// percent-encoded segment.
func slugSegments(link string, fn func(seg string)) {
	_, rest, ok := strings.Cut(link, "://")
	if !ok {
		return
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return
	}
	path := rest[i+1:]
	if j := strings.IndexAny(path, "?#"); j >= 0 {
		path = path[:j]
	}
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		if k := strings.LastIndexByte(seg, '.'); k > 0 && isExtension(seg[k+1:]) {
			seg = seg[:k]
		}
		if strings.IndexByte(seg, '%') >= 0 {
			dec, err := url.PathUnescape(seg)
			if err != nil || !utf8.ValidString(dec) {
				continue
			}
			seg = dec
		}
		if slugWordCount(seg) >= 3 {
			fn(seg)
		}
	}
}

// slugTokens appends the terms of link's slug (see slugSegments) to out,
// at most maxSlugTerms of them: words of three or more letters, stemmed
// for an entry in language lang.
func slugTokens(st *stemmer, lang, link string, out []token) []token {
	base := len(out)
	slugSegments(link, func(seg string) {
		n := len(out)
		out, _ = tokenize(st, lang, seg, 0, out)
		kept := n
		for _, t := range out[n:] {
			if kept-base < maxSlugTerms && slugTerm(t.term) {
				out[kept] = t
				kept++
			}
		}
		out = out[:kept]
	})
	return out
}

// isExtension reports whether s reads as a file extension ("html",
// "story", "php5"): one to five ASCII letters or digits. The dot in
// "mt.-gox-files-for-bankruptcy" or "3.5-percent" starts none.
func isExtension(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// maxSlugTerms bounds the terms one link adds: a path is not bounded by
// anything else, and a slug is a headline's length.
const maxSlugTerms = 32

// maxWordBytes bounds a word: a longer run of letters is no word of any
// language, and each distinct one would sit in the stem cache.
const maxWordBytes = 256

// slugWordCount counts the words of seg that are letters only, between
// the separators of a slug.
func slugWordCount(seg string) int {
	n, letters, other := 0, 0, false
	for _, r := range seg {
		switch {
		case r == '-' || r == '_' || r == '+' || r == ',':
			if letters > 0 && !other {
				n++
			}
			letters, other = 0, false
		case unicode.IsLetter(r):
			letters++
		default:
			other = true
		}
	}
	if letters > 0 && !other {
		n++
	}
	return n
}

// slugTerm reports whether a term from a slug carries meaning: words of
// three or more letters; numbers in a link are dates and ids.
func slugTerm(t string) bool {
	return utf8.RuneCountInString(t) >= 3 && strings.IndexFunc(t, unicode.IsDigit) < 0
}

// hasUpper reports whether w holds a capital letter.
func hasUpper(w string) bool {
	for _, r := range w {
		if unicode.IsUpper(r) {
			return true
		}
	}
	return false
}
