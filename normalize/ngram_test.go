package normalize

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestModelFile checks the embedded model against the detector's
// assumptions: every default language is supported, each modelled
// language's letters are of the script group lang.go puts it in, and
// every n-gram line parses.
func TestModelFile(t *testing.T) {
	modelled := ModelLanguages()
	if !slices.IsSorted(modelled) || len(modelled) < 2 {
		t.Fatalf("model languages %v", modelled)
	}
	supported := SupportedLanguages()
	for _, l := range DefaultLanguages() {
		if !slices.Contains(supported, l) {
			t.Errorf("default language %s is not supported", l)
		}
	}
	letters := map[string]int{}
	inGroup := map[string]int{}
	seen := map[string]bool{}
	forEachModelLine(func(lang, gram string, q int) bool {
		seen[lang] = true
		if _, ok := ngramKey(gram); !ok || q < 0 || q >= absent {
			t.Errorf("%s: bad line %q %d", lang, gram, q)
		}
		if strings.Count(gram, "")-1 == 1 {
			letters[lang]++
			if groupOf(lang).writes([]rune(gram)[0]) {
				inGroup[lang]++
			}
		}
		return false
	})
	for _, l := range modelled {
		if !seen[l] {
			t.Errorf("%s: listed but has no n-grams", l)
			continue
		}
		// Latin models hold a few foreign letters (ｍ, ɛ); a language
		// put in the wrong group would hold almost none of its letters
		if share := float64(inGroup[l]) / float64(letters[l]); share < 0.8 {
			t.Errorf("%s: only %.0f%% of its letters are of its script group %d", l, 100*share, groupOf(l))
		}
	}
	if len(seen) != len(modelled) {
		t.Errorf("languages line %v, n-grams of %d languages", modelled, len(seen))
	}
}

func TestNGramDetectorLanguages(t *testing.T) {
	_, err := NewNGramDetector([]string{"en", "xx"})
	if !errors.Is(err, ErrLanguages) || !strings.Contains(err.Error(), `"xx"`) || !strings.Contains(err.Error(), "en, es") {
		t.Errorf("unknown code: %v; want ErrLanguages naming it and the supported codes", err)
	}
	if _, err := NewNGramDetector([]string{"en"}); !errors.Is(err, ErrLanguages) {
		t.Errorf("one language: %v", err)
	}
	d, err := NewNGramDetector([]string{"EN", " de ", "en", "ja"})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{
		"Die Regierung hat heute einen neuen Haushalt beschlossen": "de",
		"The government passed a new budget today":                 "en",
		"東京で大きな地震がありました":                                           "ja",
		"北京时间今天上午发生地震":                                             "", // zh not configured
		"Правительство приняло новый бюджет":                       "", // no Cyrillic language configured
	} {
		if got := d.Detect(text); got != want {
			t.Errorf("Detect(%q) = %q, want %q", text, got, want)
		}
	}
	// a group of one language names it without a model
	if d.group[groupLatin] == nil || d.group[groupCyrillic] != nil {
		t.Errorf("groups: %+v", d.group)
	}
}

// TestConfigRefusesUnsupportedLanguage: the configuration check, not the
// worker's start, reports an unknown language, with what is supported.
func TestConfigRefusesUnsupportedLanguage(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Languages = []string{"en", "ru", "cs"}
	err := cfg.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "languages" || !strings.Contains(ce.Msg, `"cs"`) || !strings.Contains(ce.Msg, "uk") {
		t.Errorf("Validate: %v", err)
	}
	cfg.Languages = DefaultLanguages()
	if err := cfg.Validate(); err != nil {
		t.Errorf("default languages refused: %v", err)
	}
}

// TestDetectWordBoundaries: letters are scored within their word, Latin
// words in a Cyrillic text are not scored by the Cyrillic models, and a
// text with no letter of its group's script gives no language.
func TestDetectWordBoundaries(t *testing.T) {
	d, err := NewNGramDetector(DefaultLanguages())
	if err != nil {
		t.Fatal(err)
	}
	m := d.group[groupCyrillic]
	if got := m.detect("iPhone MacBook"); got != "" {
		t.Errorf("Latin words scored by the Cyrillic group: %q", got)
	}
	if a, b := m.detect("Україна iPhone"), m.detect("Україна"); a != b || a != "uk" {
		t.Errorf("with a Latin word %q, without %q; want uk", a, b)
	}
}

// FuzzNGramDetect: any text gives "" or a configured language, the same
// one each time, without a panic (invalid UTF-8, lone marks, any script).
func FuzzNGramDetect(f *testing.F) {
	for _, s := range []string{"", "The government passed a budget", "Верховна Рада ухвалила закон", "وزارة الصحة",
		"\xff\xfe a\u0301b", "iPhone в деталях", "ааааааааааа", "东京 Tokyo Токио"} {
		f.Add(s)
	}
	d, err := NewNGramDetector(DefaultLanguages())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := d.Detect(s)
		if got != "" && !d.allowed[got] {
			t.Fatalf("Detect(%q) = %q, not a configured language", s, got)
		}
		if again := d.Detect(s); again != got {
			t.Fatalf("Detect(%q) = %q, then %q", s, got, again)
		}
	})
}
