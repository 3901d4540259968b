package words

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"Fed's Plosser: 'no change' in 2014": {"fed's", "plosser", "no", "change", "in", "2014"},
		"Власти Москвы — продлили":           {"власти", "москвы", "продлили"},
		"北京时间 today":                         {"北", "京", "时", "间", "today"},
		"مقتل نائب رئيس":                     {"مقتل", "نائب", "رئيس"},
		"ЁЛКА Ѓ Ђ rock'n'roll'' x9Ж":         {"ёлка", "ѓ", "ђ", "rock'n'roll", "x9ж"},
		"⚡️Срочно: ❗️Путин, Ва\u0301ня":      {"срочно", "путин", "ва\u0301ня"},
		"": {},
	} {
		if got := Split(in); !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

// refSplit is the plain definition of the tokens, lowering the whole
// text first, that the Tokenizer's single pass must reproduce.
func refSplit(text string) []string {
	toks := []string{}
	start := -1
	lower := strings.ToLower(text)
	for i, r := range lower {
		switch {
		case r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			if start >= 0 {
				// a trailing apostrophe closes a quotation here too
				toks = append(toks, strings.TrimRight(lower[start:i], "'"))
				start = -1
			}
			toks = append(toks, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || (start >= 0 && IsWordMark(r)) || (r == '\'' && start >= 0):
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

// realTexts reads the titles and posts of the shared replay data.
func realTexts(t *testing.T) []string {
	t.Helper()
	var out []string
	read := func(path string, gz bool) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var sc *bufio.Scanner
		if gz {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			sc = bufio.NewScanner(zr)
		} else {
			sc = bufio.NewScanner(f)
		}
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var row struct{ Title, Text string }
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatal(err)
			}
			out = append(out, row.Title, row.Text)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	read("../testdata/replay/uci-news-2014-03.jsonl", false)
	read("../testdata/replay/telegram-ru-news-sample.jsonl.gz", true)
	return out
}

func TestSplitMatchesReference(t *testing.T) {
	texts := append(realTexts(t), "bad \xff utf8 \xe2\x82", "\u0130STANBUL Ⱥ ǅ", "ΑΘΗΝΑ ĲSSEL", "ЀЏАПРЯапрџѠѡ Ё\xd0\xd1\xd0 \xd1\xa0", "ёЁ\xd0")
	for _, s := range texts {
		if got, want := Split(s), refSplit(s); !slices.Equal(got, want) {
			t.Fatalf("Split(%q) = %q, reference %q", s, got, want)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"Fed's 'x''", "ЁЛКА北京", "\xffa'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Split(s), refSplit(s); !slices.Equal(got, want) {
			t.Fatalf("Split(%q) = %q, reference %q", s, got, want)
		}
	})
}

func BenchmarkSplit(b *testing.B) {
	text := strings.Repeat("Власти Москвы продлили режим повышенной готовности, Fed's Plosser says. ", 14)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Split(text)
	}
}
