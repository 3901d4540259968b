package normalize

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/unicode/norm"

	"github.com/newswire/newswire/sentence"
)

// HTMLToText renders HTML as plain text: block elements become line breaks
// (paragraphs are kept as blank-line separated), script and style are
// dropped, entities are decoded. It never fails; broken markup yields the
// text the tokenizer could recover.
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return CleanText(b.String())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Svg:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Br:
				b.WriteByte('\n')
			case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Blockquote, atom.Pre, atom.Ul, atom.Ol, atom.Table, atom.Section, atom.Article,
				atom.Header, atom.Footer, atom.Figure, atom.Figcaption, atom.Hr:
				b.WriteString("\n\n")
			case atom.Li, atom.Tr, atom.Dt, atom.Dd:
				if tt != html.EndTagToken { // "</li><li>" is one line break, not a paragraph
					b.WriteByte('\n')
				}
			case atom.Td, atom.Th:
				b.WriteByte(' ')
			}
		}
	}
}

// MarkdownToText renders Telegram-style markdown as plain text: links keep
// their label (or the URL when the label is empty), emphasis, strike,
// spoiler and code markers are dropped.
func MarkdownToText(s string) string {
	links := strings.Contains(s, "](")
	if !links && firstMarker(s) < 0 {
		return CleanText(s)
	}
	// links and markers are rendered into one buffer, on the stack for
	// the usual post, so that only the cleaned text is allocated
	var stack [4096]byte
	var b []byte
	if len(s) <= len(stack) {
		b = stack[:0]
	} else {
		b = make([]byte, 0, len(s))
	}
	if links {
		b = appendMDLinks(b, s)
	} else {
		b = append(b, s...)
	}
	return CleanText(string(dropMarkers(b)))
}

// appendMDLinks appends s with the links "[label](url)" rendered: a
// hand-written scan, since a regexp here cost as much as the rest of the
// normalizer. A label runs to the first "]" on its line and the URL has no
// spaces; text that is not such a link stays as it is.
func appendMDLinks(b []byte, s string) []byte {
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); i++ {
		if s[i] != '[' {
			continue
		}
		label, url, end, ok := mdLinkAt(s, i)
		if !ok {
			continue
		}
		b = append(b, s[done:i]...)
		switch {
		case label == "":
			b = append(b, url...)
		case !strings.ContainsFunc(label, visible):
			// "[\u200b](https://telegra.ph/file/…)": Telegram's hidden link to
			// a media preview, not part of the text
		default:
			b = append(b, label...)
		}
		done = end
		i = end - 1
	}
	return append(b, s[done:]...)
}

// mdLinkAt reads a link starting with the "[" at s[i] and returns the
// offset just after it.
func mdLinkAt(s string, i int) (label, url string, end int, ok bool) {
	j := i + 1
	for j < len(s) && s[j] != ']' && s[j] != '\n' {
		j++
	}
	if j+1 >= len(s) || s[j] != ']' || s[j+1] != '(' {
		return "", "", 0, false
	}
	k := j + 2
	for k < len(s) && s[k] != ')' && !asciiSpace(s[k]) {
		k++
	}
	if k >= len(s) || s[k] != ')' {
		return "", "", 0, false
	}
	return s[i+1 : j], s[j+2 : k], k + 1, true
}

// asciiSpace is the \s of Go's regexp syntax.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// markerBytes are the bytes markdown markers are made of.
var markerBytes = [256]bool{'*': true, '_': true, '~': true, '|': true, '`': true}

func firstMarker(s string) int {
	for i := 0; i < len(s); i++ {
		if markerBytes[s[i]] {
			return i
		}
	}
	return -1
}

// dropMarkers removes the emphasis, strike, spoiler and code markers
// "**", "__", "~~", "||" and "`", each pair read left to right, from b in
// place (the text only shrinks).
func dropMarkers(b []byte) []byte {
	out := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case !markerBytes[c]:
			b[out] = c
			out++
			i++
		case c == '`':
			i++
		case i+1 < len(b) && b[i+1] == c:
			i += 2
		default:
			b[out] = c
			out++
			i++
		}
	}
	return b[:out]
}

// CleanText repairs invalid UTF-8, applies Unicode NFC, removes control
// and invisible format characters (keeping joiners inside emoji and
// scripts that need them), folds runs of spaces and keeps at most one blank
// line between paragraphs.
func CleanText(s string) string {
	// Most text is valid and holds only runes NFC leaves alone: fold it in
	// one pass, and normalize first only when that pass meets anything else.
	if out, ok := fold(s, true); ok {
		return out
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	out, _ := fold(norm.NFC.String(s), false)
	// Dropping a control or format character can bring a base and a
	// combining mark together that NFC would compose ("A\x01\u0307").
	if !norm.NFC.IsNormalString(out) {
		out = norm.NFC.String(out)
	}
	return out
}

// fold is CleanText on text in NFC. With inertOnly it gives up, reporting
// false, at the first invalid byte or rune that is not nfcInert. Runs of
// kept runes, with the separators fold would write between them, are
// copied as spans; text that is clean already is returned as it is.
func fold(s string, inertOnly bool) (string, bool) {
	var b strings.Builder
	newlines := 0
	space := false
	span := -1 // start of the kept runes not yet copied
	flush := func(end int) {
		if b.Cap() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[span:end])
		span = -1
	}
	for i := 0; i < len(s); {
		if span >= 0 {
			// the rune before i was kept and no separator is pending
			if i = plainSpanEnd(s, i); i == len(s) {
				break
			}
		}
		r, size := decodeRune(s, i)
		if inertOnly && r >= utf8.RuneSelf && !(nfcInert(r) && (r != utf8.RuneError || size > 1)) {
			return "", false
		}
		drop := true
		switch {
		case plainRune(r):
			drop = false
		case r == '\n' || r == '\u2028' || r == '\u2029':
			newlines++
			space = false
		case r == '\r':
		case isSpace(r):
			space = true
		case r == '\u200d' || r == '\u200c':
			// zero-width joiner and non-joiner shape emoji and Indic/Arabic text
			drop = false
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), r == '\uFFFE', r == '\uFEFF':
		default:
			drop = false
		}
		if drop {
			if span >= 0 {
				flush(i)
			}
			i += size
			continue
		}
		if (newlines > 0 || space) && (b.Len() > 0) {
			// span is empty: whatever set the separator flushed it
			switch {
			case newlines >= 2:
				b.WriteString("\n\n")
			case newlines == 1:
				b.WriteByte('\n')
			default:
				b.WriteByte(' ')
			}
		}
		newlines, space = 0, false
		if span < 0 {
			span = i
		}
		i += size
	}
	if span >= 0 {
		if b.Len() == 0 {
			return s[span:], true // one span: nothing to change but the ends
		}
		b.WriteString(s[span:])
	}
	return b.String(), true
}

// plainSpanEnd returns where the run of text starting at s[i], after a
// kept rune, stops being what fold would write unchanged: printable ASCII
// and plain, NFC-inert runes, joined by a single space, a line break or a
// blank line (exactly the separators fold writes) before another such rune.
func plainSpanEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c > ' ' && c < utf8.RuneSelf-1 {
			i++
			continue
		}
		if cyrillic2(s, i) {
			i += 2
			continue
		}
		j := i
		switch {
		case c == ' ':
			j++
		case c == '\n' && i+1 < len(s) && s[i+1] == '\n':
			j += 2
		case c == '\n':
			j++
		}
		if j >= len(s) {
			return i
		}
		if c = s[j]; c > ' ' && c < utf8.RuneSelf-1 {
			i = j + 1
			continue
		}
		if cyrillic2(s, j) {
			i = j + 2
			continue
		}
		r, size := decodeRune(s, j)
		if r < utf8.RuneSelf || !plainRune(r) || !nfcInert(r) {
			return i
		}
		i = j + size
	}
	return i
}

// plainRune reports the runes CleanText copies without looking them up:
// printable ASCII, Latin-1 letters to Armenian, the common punctuation and
// the emoji hold no spaces, controls or format characters (checked by a
// test).
func plainRune(r rune) bool {
	return r > 0x20 && r < 0x7F || r > 0xA0 && r < 0x600 && r != 0xAD ||
		r >= 0x2010 && r < 0x2028 || r >= 0x2030 && r < 0x205F || r >= 0x1F000 && r < 0x1FB00
}

// decodeRune is utf8.DecodeRuneInString(s[i:]) answering two-byte
// sequences (Cyrillic, Greek, Latin-1, Arabic) itself: the standard one
// inlines only ASCII, and most of a Russian text takes its slow path.
func decodeRune(s string, i int) (rune, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1
	}
	if c >= 0xC2 && c < 0xE0 && i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
		return rune(c&0x1F)<<6 | rune(s[i+1]&0x3F), 2
	}
	return utf8.DecodeRuneInString(s[i:])
}

// cyrillic2 reports a two-byte rune from U+0400 to U+047F at s[i]:
// Cyrillic letters, plain and NFC-inert, most of a Russian text.
func cyrillic2(s string, i int) bool {
	return i+1 < len(s) && s[i]&^1 == 0xD0 && s[i+1]&0xC0 == 0x80
}

// isSpace is unicode.IsSpace without a table search for the runes from
// U+0100 to U+167F, none of which is a space.
func isSpace(r rune) bool {
	if r >= 0x100 && r < 0x1680 {
		return false
	}
	return unicode.IsSpace(r)
}

// nfcInert reports runes that NFC leaves alone wherever they stand: they
// are normalized, of combining class 0 and never compose with the rune
// before them, so a text of nothing else is in NFC. The ranges cover
// Latin, Cyrillic, Arabic letters, CJK, Hangul, punctuation and emoji;
// TestNFCInert checks every rune in them against the Unicode tables.
func nfcInert(r rune) bool {
	switch {
	case r < 0x0300: // ASCII, Latin-1, Latin Extended-A/B, IPA, modifiers
		return true
	case r < 0x0400:
		return false // combining diacritics and Greek, whose tonos has singletons
	case r < 0x0483: // Cyrillic
		return true
	case r < 0x048A:
		return false // Cyrillic combining titlo and signs
	case r < 0x0530: // Cyrillic, Cyrillic Supplement
		return true
	case 0x0621 <= r && r < 0x064B, 0x0660 <= r && r < 0x066A, 0x0671 <= r && r < 0x06D4:
		return true // Arabic letters and digits without harakat or hamza marks
	case 0x200B <= r && r < 0x2028, 0x2030 <= r && r < 0x2065, 0x20A0 <= r && r < 0x20C1, r == 0x20E3:
		return true // zero-width marks, dashes, quotes, ellipsis, currency, keycap
	case 0x2100 <= r && r < 0x2300 && r != 0x2126 && r != 0x212A && r != 0x212B:
		return true // letterlike (but Ω, K, Å: singletons), arrows, maths
	case 0x2300 <= r && r < 0x2800 && r != 0x2329 && r != 0x232A:
		return true // technical (but 〈 〉), boxes, shapes, symbols, dingbats
	case 0x2B00 <= r && r < 0x2C00, 0xFE00 <= r && r < 0xFE10:
		return true // symbols and arrows, variation selectors (emoji style)
	case 0x3000 <= r && r < 0x302A, 0x3030 <= r && r < 0x3099, 0x30A0 <= r && r < 0x3100, 0x4E00 <= r && r < 0xA000:
		return true // CJK punctuation, kana without voicing marks, ideographs
	case 0xAC00 <= r && r < 0xD7A4: // Hangul syllables
		return true
	case 0x1F000 <= r && r < 0x1FB00: // emoji and pictographs
		return true
	}
	return false
}

var bareURL = regexp.MustCompile(`(?i)\bhttps?://\S+`)

func visible(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.In(r, unicode.Cc, unicode.Cf)
}

// Headline makes a ticker headline from text: the first sentence of the
// first line that says something (lines of hashtags or mentions alone are
// skipped, leading emoji and bullets dropped), cut at a word boundary with
// "…" when longer than max runes.
func Headline(text string, max int) string {
	first := ""
	for line := range strings.Lines(text) {
		if strings.Contains(line, "://") {
			line = bareURL.ReplaceAllString(line, "") // a link says nothing on a ticker
		}
		line = strings.TrimLeftFunc(line, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("\"«“„'(#@$€£", r)
		})
		line = strings.TrimSpace(line)
		if line == "" || tagsOnly(line) {
			continue
		}
		first = line
		break
	}
	if first == "" {
		first = strings.TrimSpace(bareURL.ReplaceAllString(text, ""))
		if i := strings.IndexByte(first, '\n'); i >= 0 {
			first = strings.TrimSpace(first[:i])
		}
	}
	return truncateWords(firstSentence(first), max)
}

func tagsOnly(line string) bool {
	fieldStart := true
	for _, r := range line {
		if isSpace(r) {
			fieldStart = true
			continue
		}
		if fieldStart && r != '#' && r != '@' {
			return false
		}
		fieldStart = false
	}
	return true
}

// firstSentence returns text up to and including the first sentence end
// that leaves a sentence long enough to stand alone; package sentence
// keeps abbreviations, initials and numbers ("S.T.A.L.K.E.R.", "J. Smith",
// "No. 5") whole.
func firstSentence(text string) string {
	n := 0 // runes before text[i]
	for i := range text {
		if n >= 12 {
			if end, ok := sentence.EndAt(text, i); ok {
				return text[:end]
			}
		}
		n++
	}
	return text
}

// truncateWords cuts s to at most max runes, "…" included, at the last
// space in the second half of the allowed length, or at the rune when
// there is none there.
func truncateWords(s string, max int) string {
	if max <= 0 {
		return s
	}
	cut := max - 1 // room for the ellipsis
	n := 0         // runes before s[i]
	cutAt, spaceAt := len(s), -1
	for i, r := range s {
		if n == cut {
			cutAt = i
		}
		if n > cut/2 && n <= cut && unicode.IsSpace(r) {
			spaceAt = i
		}
		if n++; n > max {
			break
		}
	}
	if n <= max {
		return s
	}
	end := cutAt
	if spaceAt >= 0 {
		end = spaceAt
	} // else one long word (or a script without spaces): cut at the rune
	out := strings.TrimRightFunc(s[:end], func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' && r != '»'
	})
	return out + "…"
}
