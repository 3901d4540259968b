// Package words splits text into word tokens the same way for every stage
// and every script: Unicode letters and digits form words; Han, Hiragana,
// Katakana and Thai, written without spaces, become one token per character.
package words

import (
	"unicode"
	"unicode/utf8"
)

// Split returns the lower-case word tokens of text.
func Split(text string) []string {
	toks := make([]string, 0, len(text)/6+1)
	var t Tokenizer
	t.Reset(text)
	for tok := t.Next(); tok != nil; tok = t.Next() {
		toks = append(toks, string(tok))
	}
	return toks
}

// Tokenizer yields the tokens of Split one at a time, lower-cased into a
// buffer it reuses, so that a caller who only hashes tokens, or needs only
// the first few, allocates nothing and reads no further than it must.
// The zero value is ready after Reset.
type Tokenizer struct {
	text string
	pos  int
	buf  []byte
	// pending is a character token found while ending the word before it.
	pending rune
}

// Reset starts tokenizing text, keeping the buffer.
func (t *Tokenizer) Reset(text string) {
	t.text, t.pos, t.buf, t.pending = text, 0, t.buf[:0], 0
}

// Next returns the next token, valid until the following call, or nil at
// the end of the text.
func (t *Tokenizer) Next() []byte {
	if t.pending != 0 {
		t.buf = utf8.AppendRune(t.buf[:0], t.pending)
		t.pending = 0
		return t.buf
	}
	// the loop works on locals, which the compiler keeps in registers; the
	// fields are written back when a token ends
	text, pos, buf := t.text, t.pos, t.buf[:0]
	inWord := false
	for pos < len(text) {
		c := text[pos]
		if c < utf8.RuneSelf {
			// ASCII, most of any text: no table lookups
			pos++
			switch {
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+('a'-'A'))
				inWord = true
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				buf = append(buf, c)
				inWord = true
			case c == '\'' && inWord:
				buf = append(buf, c)
			default:
				if inWord {
					t.pos, t.buf = pos, buf
					return t.word()
				}
			}
			continue
		}
		if pos+1 < len(text) && (c == 0xD0 || c == 0xD1 && text[pos+1] < 0xA0) && text[pos+1]&0xC0 == 0x80 {
			// U+0400–U+045F: Cyrillic letters, lowered on the bytes
			c2 := text[pos+1]
			pos += 2
			switch {
			case c == 0xD1 || c2 >= 0xB0: // а–п, р–џ: lower case already
				buf = append(buf, c, c2)
			case c2 < 0x90: // Ѐ–Џ → ѐ–џ
				buf = append(buf, 0xD1, c2+0x10)
			case c2 < 0xA0: // А–П → а–п
				buf = append(buf, 0xD0, c2+0x20)
			default: // Р–Я → р–я
				buf = append(buf, 0xD1, c2-0x20)
			}
			inWord = true
			continue
		}
		var r rune
		size := 2
		if c >= 0xC2 && c < 0xE0 && pos+1 < len(text) && text[pos+1]&0xC0 == 0x80 {
			// two bytes (Greek, Arabic…), decoded here: the standard
			// decoder inlines only ASCII
			r = rune(c&0x1F)<<6 | rune(text[pos+1]&0x3F)
		} else {
			r, size = utf8.DecodeRuneInString(text[pos:])
		}
		pos += size
		r = lower(r)
		switch {
		case r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			// (the range test first: no script below U+0E00 is one of these)
			t.pos, t.buf = pos, buf
			if inWord {
				t.pending = r
				return t.word()
			}
			t.buf = utf8.AppendRune(t.buf, r)
			return t.buf
		case isCyrillicLetter(r):
			buf = append(buf, byte(0xC0|r>>6), byte(0x80|r&0x3F))
			inWord = true
		case unicode.IsLetter(r) || unicode.IsDigit(r) || inWord && IsWordMark(r):
			buf = utf8.AppendRune(buf, r)
			inWord = true
		default:
			if inWord {
				t.pos, t.buf = pos, buf
				return t.word()
			}
		}
	}
	t.pos, t.buf = pos, buf
	if inWord {
		return t.word()
	}
	return nil
}

// word ends the token in the buffer; a trailing apostrophe closes a
// quotation rather than belonging to the word.
func (t *Tokenizer) word() []byte {
	n := len(t.buf)
	for n > 0 && t.buf[n-1] == '\'' {
		n--
	}
	t.buf = t.buf[:n]
	return t.buf
}

// lower is unicode.ToLower with the Cyrillic alphabets answered directly,
// since the case tables cost a binary search per rune.
func lower(r rune) rune {
	switch {
	case 0x0410 <= r && r <= 0x042F: // А–Я
		return r + 0x20
	case 0x0430 <= r && r <= 0x045F: // а–я, ѐ–џ
		return r
	case 0x0400 <= r && r <= 0x040F: // Ѐ–Џ
		return r + 0x50
	}
	return unicode.ToLower(r)
}

func isCyrillicLetter(r rune) bool { return 0x0430 <= r && r <= 0x045F }

// IsWordMark reports whether r is a combining mark that belongs to the
// letters before it; a mark starts no word. Every stage's tokenizer uses
// it, so that a word splits the same way everywhere. Variation selectors belong to
// none: U+FE0F after an emoji ("⚡️Срочно") asks for the emoji's colour
// form, and taken into the next word it made "\ufe0fсрочно", a token only
// the posts with that emoji shared.
func IsWordMark(r rune) bool {
	if 0xFE00 <= r && r <= 0xFE0F || 0xE0100 <= r && r <= 0xE01EF {
		return false
	}
	return unicode.Is(unicode.Mn, r)
}
