package normalize

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/text/unicode/norm"
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

var (
	mdLink = regexp.MustCompile(`\[([^\]\n]*)\]\(([^)\s]*)\)`)
	// emphasis, strike, spoiler and code markers, dropped
	mdMarkers = strings.NewReplacer("**", "", "__", "", "~~", "", "||", "", "`", "")
)

// MarkdownToText renders Telegram-style markdown as plain text: links keep
// their label (or the URL when the label is empty), emphasis, strike,
// spoiler and code markers are dropped.
func MarkdownToText(s string) string {
	if strings.Contains(s, "](") {
		s = mdLinks(s)
	}
	return CleanText(mdMarkers.Replace(s))
}

func mdLinks(s string) string {
	return mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := mdLink.FindStringSubmatch(m)
		if sub[1] == "" {
			return sub[2]
		}
		if !strings.ContainsFunc(sub[1], visible) {
			// "[\u200b](https://telegra.ph/file/…)": Telegram's hidden link to
			// a media preview, not part of the text
			return ""
		}
		return sub[1]
	})
}

// CleanText repairs invalid UTF-8, applies Unicode NFC, removes control
// and invisible format characters (keeping joiners inside emoji and
// scripts that need them), folds runs of spaces and keeps at most one blank
// line between paragraphs.
func CleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	newlines := 0
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\u2028' || r == '\u2029':
			newlines++
			space = false
			continue
		case r == '\r':
			continue
		case unicode.IsSpace(r):
			space = true
			continue
		case r == '\u200d' || r == '\u200c':
			// zero-width joiner and non-joiner shape emoji and Indic/Arabic text
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), r == '\uFFFE', r == '\uFEFF':
			continue
		}
		if b.Len() > 0 {
			switch {
			case newlines >= 2:
				b.WriteString("\n\n")
			case newlines == 1:
				b.WriteByte('\n')
			case space:
				b.WriteByte(' ')
			}
		}
		newlines, space = 0, false
		b.WriteRune(r)
	}
	return b.String()
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
	for _, f := range strings.Fields(line) {
		if f[0] != '#' && f[0] != '@' {
			return false
		}
	}
	return true
}

// firstSentence returns text up to and including the first sentence end
// (., !, ?, 。, ！, ？ followed by space or end) that leaves a sentence long
// enough to stand alone.
func firstSentence(text string) string {
	runes := []rune(text)
	for i, r := range runes {
		switch r {
		case '.', '!', '?', '。', '！', '？', '…':
			if i < 12 {
				continue
			}
			if i+1 == len(runes) || unicode.IsSpace(runes[i+1]) || r == '。' || r == '！' || r == '？' {
				return string(runes[:i+1])
			}
		}
	}
	return text
}

func truncateWords(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	cut := max - 1 // room for the ellipsis
	end := cut
	for end > cut/2 && !unicode.IsSpace(runes[end]) {
		end--
	}
	if end <= cut/2 {
		end = cut // one long word (or a script without spaces): cut at the rune
	}
	out := strings.TrimRightFunc(string(runes[:end]), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' && r != '»'
	})
	return out + "…"
}
