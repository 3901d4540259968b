package normalize

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/newswire/newswire/words"
)

// The hand-written text paths must give exactly what the plain
// definitions below give: the exact fingerprints in wire_fp and the golden
// entries depend on it. These references are the straightforward (and
// several times slower) formulations the fast paths replaced.

var refMDLink = regexp.MustCompile(`\[([^\]\n]*)\]\(([^)\s]*)\)`)

func refMarkdownToText(s string) string {
	s = refMDLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := refMDLink.FindStringSubmatch(m)
		if sub[1] == "" {
			return sub[2]
		}
		if !strings.ContainsFunc(sub[1], visible) {
			return ""
		}
		return sub[1]
	})
	s = strings.NewReplacer("**", "", "__", "", "~~", "", "||", "", "`", "").Replace(s)
	return refCleanText(s)
}

func refCleanText(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	newlines, space := 0, false
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
	// Dropping a control character can bring a base and a combining mark
	// together ("B\x10\u0331"): the result is NFC again.
	return norm.NFC.String(b.String())
}

func refExactFingerprint(canonURL, text string) string {
	h := sha256.New()
	h.Write([]byte(canonURL))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(strings.Join(strings.Fields(text), " "))))
	return hex.EncodeToString(h.Sum(nil))
}

func refTruncateWords(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	cut := max - 1
	end := cut
	for end > cut/2 && !unicode.IsSpace(runes[end]) {
		end--
	}
	if end <= cut/2 {
		end = cut
	}
	out := strings.TrimRightFunc(string(runes[:end]), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' && r != '»'
	})
	return out + "…"
}

func refFeatures(text string) []uint64 { return Features(words.Split(text)) }

func checkFastPaths(t *testing.T, s string) {
	t.Helper()
	if got, want := MarkdownToText(s), refMarkdownToText(s); got != want {
		t.Fatalf("MarkdownToText(%q) = %q, reference %q", s, got, want)
	}
	if got, want := CleanText(s), refCleanText(s); got != want {
		t.Fatalf("CleanText(%q) = %q, reference %q", s, got, want)
	}
	if got, want := ExactFingerprint("u", s), refExactFingerprint("u", s); got != want {
		t.Fatalf("ExactFingerprint(%q) differs from the reference", s)
	}
	clean := CleanText(s) // what truncateWords is given: valid UTF-8
	for _, max := range []int{1, 2, 5, 20, 110} {
		if got, want := truncateWords(clean, max), refTruncateWords(clean, max); got != want {
			t.Fatalf("truncateWords(%q, %d) = %q, reference %q", clean, max, got, want)
		}
	}
	var buf [2 * maxFeatureTokens]uint64
	got, want := textFeatures(&buf, s), refFeatures(s)
	if len(got) != len(want) {
		t.Fatalf("textFeatures(%q): %d features, reference %d", s, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("textFeatures(%q)[%d] differs from the reference", s, i)
		}
	}
	head, rest, _ := strings.Cut(s, "\n")
	if got, want := exactFingerprint("u", head, rest), refExactFingerprint("u", head+"\n"+rest); got != want {
		t.Fatalf("exactFingerprint(%q, %q) differs from the reference of the joined text", head, rest)
	}
	if split := textFeatures(&buf, head, rest); !slices.Equal(split, want) {
		t.Fatalf("textFeatures(%q, %q) differs from the features of the joined text", head, rest)
	}
}

func TestFastPathsMatchReference(t *testing.T) {
	cases := []string{
		"", "[a](b)", "[](http://x)", "[\u200b](https://telegra.ph/file/x.jpg)Text", "[a [b](u) c](d)",
		"[a\n](u) [x](y z) [x](y", "***bold*** __u__ ~~s~~ ||sp|| `c` _i_", "a\r\n\r\n\r\nb\u2028c\u00a0d",
		"й й Ё Ω Å 〈 \u0301x", "e\u0301 ب\u064e \U0001F600\uFE0F\u200d\U0001F525", "bad \xff\xfe utf8 \xe2\x82",
		"Fed's Plosser: 'no change'' in 2014", "北京时间 today カ\u3099", "\u0130stanbul ΑΘΗΝΑ Ⱥ", "\x00\x7f\u0085\u200b\ufeff",
		"a b\nc\n\nd\n\n\ne \nf\n g  h", "я ё\nЖ\n\nщ «x» — y…", "a \u0301b\n\u0301", "x \xffy\n\xff", "a \u00adb \u200bc",
		"a\u2028b \r\nc", "end \n", "**a** `b`", "*_~|`", "a*b**c***d", "[x](y)**", "[**](u)*",
		"ЀЏАПРЯапрџѠѡ Ё\xd0\xd1\xd0 \xd1\xa0", "Ѐ\u00a0Ё\u0085ж",
	}
	for _, it := range readReplay(t, "testdata/neardup/items.jsonl.gz") {
		cases = append(cases, it.Title, it.Text)
	}
	for _, s := range cases {
		checkFastPaths(t, s)
	}
}

func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{"[a](b) **x** й", "e\u0301\u064e\uFE0F", "\xff[](u)`", "Fed's 'x''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkFastPaths(t, s) })
}

// refSimHashFeatures is SimHashFeatures by its definition: one counter per
// bit position.
func refSimHashFeatures(features []uint64) uint64 {
	var count [64]int
	for _, x := range features {
		for b := range count {
			count[b] += int(x >> uint(b) & 1)
		}
	}
	var out uint64
	for b, c := range count {
		if 2*c > len(features) {
			out |= 1 << uint(b)
		}
	}
	return out
}

func TestSimHashFeaturesMatchesReference(t *testing.T) {
	x := uint64(1)
	var feats []uint64
	for n := 0; n <= 300; n++ {
		if got, want := SimHashFeatures(feats), refSimHashFeatures(feats); got != want {
			t.Fatalf("SimHashFeatures of %d features = %016x, reference %016x", n, got, want)
		}
		x = mix64(x + 0x9e3779b97f4a7c15)
		if n%7 == 3 {
			feats = append(feats, feats[n/2]) // repeats make ties at half likely
		} else {
			feats = append(feats, x)
		}
	}
	for _, f := range [][]uint64{{^uint64(0)}, {0, ^uint64(0)}, {0xff, 0xff, 0}, {1, 2, 3, 3}} {
		if got, want := SimHashFeatures(f), refSimHashFeatures(f); got != want {
			t.Fatalf("SimHashFeatures(%x) = %016x, reference %016x", f, got, want)
		}
	}
}

func TestDeriveCodeASCIIMatchesGeneral(t *testing.T) {
	for _, name := range []string{
		"", "AllAfrica", "Los Angeles Times", "rian_ru", "chan17", "  the  new york times  ", "BBC News",
		"a-b-c", "Reuters World News Service Daily", "abcdefghijklmnopq", "x1 y2", "!!!", "ab cdefghijklmnop", "Rybar",
	} {
		if got, want := deriveCodeASCII(name), deriveCode(name); got != want {
			t.Errorf("deriveCodeASCII(%q) = %q, deriveCode %q", name, got, want)
		}
	}
}

// refCanonicalQuery is canonicalQuery through url.ParseQuery, the
// formulation it replaced: the pairs ParseQuery keeps, minus tracking
// parameters, sorted by unescaped key and value, as the source wrote them.
func refCanonicalQuery(raw, host string) string {
	type pair struct{ k, v, raw string }
	var pairs []pair
	for _, p := range strings.Split(raw, "&") {
		q, err := url.ParseQuery(p)
		if err != nil || p == "" {
			continue
		}
		for k, vs := range q {
			if !isTracking(k, host) {
				pairs = append(pairs, pair{k, vs[0], p})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v), strings.Compare(a.raw, b.raw))
	})
	var b strings.Builder
	for _, p := range pairs {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.raw)
	}
	return b.String()
}

func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range []string{"b=2&a=1&utm_source=x", "a=2&a=1&A=0", "x=%zz&y=1", "s=20&t=abc&q=1", "a;b=1&c=%20+d", "&&=&k", "ref=1&Ref=2&REF_SRC=3&e=é"} {
		f.Add(s, "example.com")
		f.Add(s, "x.com")
	}
	f.Fuzz(func(t *testing.T, raw, host string) {
		if got, want := canonicalQuery(raw, host), refCanonicalQuery(raw, host); got != want {
			t.Fatalf("canonicalQuery(%q, %q) = %q, reference %q", raw, host, got, want)
		}
	})
}
