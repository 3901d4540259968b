// Package words splits text into word tokens the same way for every stage
// and every script: Unicode letters and digits form words; Han, Hiragana,
// Katakana and Thai, written without spaces, become one token per character.
package words

import (
	"strings"
	"unicode"
)

// Split returns the lower-case word tokens of text.
func Split(text string) []string {
	toks := make([]string, 0, len(text)/6+1)
	start := -1
	lower := strings.ToLower(text)
	for i, r := range lower {
		switch {
		case r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			// (the range test first: no script below U+0E00 is one of these)
			if start >= 0 {
				toks = append(toks, lower[start:i])
				start = -1
			}
			toks = append(toks, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || (r == '\'' && start >= 0):
			if start < 0 {
				start = i
			}
		default:
			if start >= 0 {
				toks = append(toks, strings.TrimRight(lower[start:i], "'"))
				start = -1
			}
		}
	}
	if start >= 0 {
		toks = append(toks, strings.TrimRight(lower[start:], "'"))
	}
	return toks
}
