package normalize

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestCanonicalURL(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://WWW.Example.COM:443/a/b?utm_source=x&b=2&a=1&fbclid=z#frag": "https://example.com/a/b?a=1&b=2",
		"http://example.com:80/":                                            "http://example.com",
		"http://example.com:8080/x":                                         "http://example.com:8080/x",
		"https://twitter.com/reuters/status/1?s=20&t=abc":                   "https://x.com/reuters/status/1",
		"https://mobile.twitter.com/reuters/status/1":                       "https://x.com/reuters/status/1",
		"https://t.me/s/rian_ru/123":                                        "https://t.me/rian_ru/123",
		"https://telegram.me/s/rian_ru":                                     "https://t.me/rian_ru",
		"https://amp.theguardian.com/world/2024/jun/11/malawi":              "https://theguardian.com/world/2024/jun/11/malawi",
		"https://www-bbc-com.cdn.ampproject.org/c/s/www.bbc.com/news/x.amp": "https://bbc.com/news/x",
		"https://www.google.com/amp/s/www.reuters.com/world/x/amp/":         "https://reuters.com/world/x",
		"http://www.www.example.com/a":                                      "http://example.com/a",
		"http://www.com/a":                                                  "http://www.com/a",
		"https://m.bbc.co.uk/news/world-1?ref=rss&gclid=1":                  "https://bbc.co.uk/news/world-1",
		"https://youtu.be/dQw4w9WgXcQ?si=abc":                               "https://youtube.com/watch?v=dQw4w9WgXcQ",
		"https://user:pw@example.com/x?ns_campaign=a&id=7":                  "https://example.com/x?id=7",
		"not a url":                 "not a url",
		"  https://example.com/x  ": "https://example.com/x",
		"mailto:desk@example.com":   "mailto:desk@example.com",
	} {
		if got := CanonicalURL(in); got != want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"e\u0301te":                     "\u00e9te", // NFC
		"a\u200bb\u00adc\ufeffd\u2060e": "abcde",    // invisible format characters
		"👨\u200d🏫 ok":                   "👨\u200d🏫 ok",
		"bad \xff\xfe bytes":            "bad \ufffd bytes",
		"a\x00b\x07c":                   "abc",
		"  many   spaces\t\there  ":     "many spaces here",
		"p1\r\n\r\n\r\n\r\np2\nline":    "p1\n\np2\nline",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	in := `<div><h1>Title &amp; more</h1><script>alert(1)</script><style>p{}</style><p>First&nbsp;para <b>bold</b>.</p><p>Second<br>line &#8212; end</p><ul><li>one</li><li>two</li></ul></div>`
	want := "Title & more\n\nFirst para bold.\n\nSecond\nline — end\n\none\ntwo"
	if got := HTMLToText(in); got != want {
		t.Errorf("HTMLToText = %q, want %q", got, want)
	}
}

func TestMarkdownToText(t *testing.T) {
	in := "[\u200b](https://telegra.ph/file/x.mp4)**Срочно:** пожар в [Москве](https://t.me/mash/1), ~~не~~ __подробности__ ||скоро|| `код` [](https://ex.com/a)"
	want := "Срочно: пожар в Москве, не подробности скоро код https://ex.com/a"
	if got := MarkdownToText(in); got != want {
		t.Errorf("MarkdownToText = %q, want %q", got, want)
	}
}

func TestHeadline(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"#срочно #москва\n\n⚡️ Взрыв прогремел в центре города. Подробности позже.", 110, "Взрыв прогремел в центре города."},
		{"Dr. Smith said the plan would fail", 110, "Dr. Smith said the plan would fail"},
		// A stop inside an abbreviation, an initial or a number is no sentence end.
		{"Для S.T.A.L.K.E.R. 2 вышел большой патч. Подробности внутри.", 110, "Для S.T.A.L.K.E.R. 2 вышел большой патч."},
		{"Für S.T.A.L.K.E.R. Fans: Das Update kommt am 3. Oktober. Mehr bald.", 110, "Für S.T.A.L.K.E.R. Fans: Das Update kommt am 3. Oktober."},
		{"Officials in the U.S. Senate and J. Smith of No. 10 agree. More soon.", 110, "Officials in the U.S. Senate and J. Smith of No. 10 agree."},
		{"«Мы победили!» Так заявил глава штаба. Итоги завтра.", 110, "«Мы победили!»"}, // the closing quote stays with its sentence
		{"Malawi's vice-president and nine others died when their plane crashed into a forest in bad weather, officials said on Tuesday", 60, "Malawi's vice-president and nine others died when their…"},
		{strings.Repeat("中", 200), 20, strings.Repeat("中", 19) + "…"},
	} {
		got := Headline(c.in, c.max)
		if got != c.want {
			t.Errorf("Headline(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
		if utf8.RuneCountInString(got) > c.max {
			t.Errorf("Headline longer than %d: %q", c.max, got)
		}
	}
}

func TestLanguageDetection(t *testing.T) {
	det, err := NewNGramDetector(DefaultLanguages())
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"Fed official says weak data caused by weather, should not slow taper":               "en",
		"[Подробнее](https://t.me/x) Власти Москвы продлили ограничения на въезд грузовиков": "ru",
		"Верховна Рада ухвалила закон про мобілізацію у другому читанні":                     "uk",
		"Le gouvernement a annoncé de nouvelles mesures pour soutenir les agriculteurs":      "fr",
		"أعلنت وزارة الصحة عن تسجيل إصابات جديدة بفيروس كورونا":                              "ar",
		"東京で大きな地震がありました":                                                                     "ja",
		"北京时间今天上午发生地震":                                                                       "zh",
		"서울에서 큰 지진이 발생했다":                                                                    "ko",
		"🔥🔥🔥 https://example.com":                                                            "",
		// Cyrillic languages the Russian letter rule must leave to the n-grams
		"Народны сход абмеркаваў пытанні бюджэту і падаткаў на наступны год": "be",
		"Правителството обсъди бюджета за следващата година в парламента":    "bg",
		"Влада Србије је усвојила нови закон о јавним набавкама":             "sr",
		"Мемлекет басшысы жаңа заң жобасына қол қойды":                       "kk",
		"Це була дуже важка зима для всіх мешканців міста":                   "uk",
		"Фарси: وزارت امور خارجه ایران امروز بیانیه‌ای منتشر کرد":            "fa",
	} {
		if got := det.Detect(text); got != want {
			t.Errorf("Detect(%q) = %q, want %q", text, got, want)
		}
	}
	ruEn, err := NewNGramDetector([]string{"en", "ru"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ruEn.Detect("Верховна Рада ухвалила закон"); got != "ru" {
		t.Errorf("Cyrillic text with ru the only Cyrillic language: %q, want ru", got)
	}
	if got := ruEn.Detect("وزارة الصحة"); got != "" {
		t.Errorf("Arabic text with no Arabic-script language configured: %q, want none", got)
	}
	if _, err := NewNGramDetector([]string{"en"}); err == nil {
		t.Error("one language accepted")
	}
	if _, err := NewNGramDetector([]string{"en", "xx"}); err == nil {
		t.Error("unknown code accepted")
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{"https://www.example.com/a?utm_source=x#f", "https://t.me/s/c/1", "https://youtu.be/x", "https://www.google.com/amp/s/x.com/a", "https://a-b.cdn.ampproject.org/c/s/a.b/c", "http://[::1]:80/",
		"https://x.com/r/*https://a.b/c*d", "https://www.google.com/url?q=https%3A%2F%2Fa.b%2Fc%3Fq%3Dhttps%3A%2F%2Fd.e", "https://l.facebook.com/l.php?u=https%3A%2F%2Fl.facebook.com%2Fl.php%3Fu%3Dhttps%253A%252F%252Fa.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := CanonicalURL(s)
		if again := CanonicalURL(once); again != once {
			t.Fatalf("not idempotent: %q → %q → %q", s, once, again)
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	for _, s := range []string{"<p>a &amp; b</p><script>x</script>", "<div><p>unclosed", "&#xFFFFFF; \xff<br/>", "<style>p{}</style>text<li>x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := HTMLToText(s)
		if !utf8.ValidString(out) || !norm.NFC.IsNormalString(out) {
			t.Fatalf("HTMLToText(%q) = %q: not valid NFC UTF-8", s, out)
		}
		if strings.Contains(out, "\n\n\n") || strings.HasPrefix(out, " ") {
			t.Fatalf("HTMLToText(%q) = %q: whitespace not folded", s, out)
		}
	})
}

// TestNFCInert checks the fast path of CleanText against the Unicode
// tables: every rune nfcInert accepts must be normalized on its own, of
// combining class 0 and unable to compose with a rune before it, so that
// a text of such runes is in NFC whatever their order.
func TestNFCInert(t *testing.T) {
	bad := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !nfcInert(r) || !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		p := norm.NFC.PropertiesString(s)
		if !norm.NFC.IsNormalString(s) || p.CCC() != 0 || !p.BoundaryBefore() || !norm.NFC.IsNormalString("a"+s) {
			if bad++; bad <= 20 {
				t.Errorf("nfcInert(%U %q) but NFC may change it", r, r)
			}
		}
	}
}

// TestCleanTextPlainRunes checks the runes CleanText copies without
// looking them up: none of them is a space, control or format character.
func TestCleanTextPlainRunes(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if plainRune(r) && (unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf) || r == '\u2028' || r == '\u2029') {
			t.Errorf("%U is copied as plain text but is a space, control or format character", r)
		}
		if isSpace(r) != unicode.IsSpace(r) {
			t.Errorf("isSpace(%U) = %v, unicode.IsSpace says otherwise", r, isSpace(r))
		}
	}
}

func TestDecodeRune(t *testing.T) {
	for _, s := range []string{"aЖ", "\xd0", "\xd0a", "\xc0\x80", "\xc1\xbf", "\xdf\xbf", "\xe2\x82\xac", "\xd0\xc0", "ß"} {
		for i := 0; i < len(s); i++ {
			r, n := decodeRune(s, i)
			wr, wn := utf8.DecodeRuneInString(s[i:])
			if r != wr || n != wn {
				t.Errorf("decodeRune(%q, %d) = %U, %d; utf8 says %U, %d", s, i, r, n, wr, wn)
			}
		}
	}
}
