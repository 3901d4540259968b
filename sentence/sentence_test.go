package sentence

import (
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // sentences joined by " | "
	}{
		// Names and abbreviations written with dots.
		{"Для S.T.A.L.K.E.R. вышел новый мод. Скачать можно бесплатно.", []string{"Для S.T.A.L.K.E.R. вышел новый мод.", "Скачать можно бесплатно."}},
		{"Для S.T.A.L.K.E.R. 2 вышел патч", []string{"Для S.T.A.L.K.E.R. 2 вышел патч"}},
		{"The U.S. Senate voted. It passed 52-48.", []string{"The U.S. Senate voted.", "It passed 52-48."}},
		{"Troops left the U.S. on Monday.", []string{"Troops left the U.S. on Monday."}},
		{"Sanctions hit the U.K. and the E.U. Ministers met.", []string{"Sanctions hit the U.K. and the E.U. Ministers met."}}, // kept whole: cannot tell
		{"Zahlen z.B. aus Berlin. Dann mehr.", []string{"Zahlen z.B. aus Berlin.", "Dann mehr."}},
		{"Это т.е. важно. Да.", []string{"Это т.е. важно.", "Да."}},
		// Initials.
		{"J. Smith told reporters. He left.", []string{"J. Smith told reporters.", "He left."}},
		{"Интервью дал А. С. Пушкин. Потом ушёл.", []string{"Интервью дал А. С. Пушкин.", "Потом ушёл."}},
		{"Spoke with John F. Kennedy Jr. Then left.", []string{"Spoke with John F. Kennedy Jr.", "Then left."}}, // "Jr." often ends one
		// Titles.
		{"Dr. Jones said no. Prof. Müller agreed.", []string{"Dr. Jones said no.", "Prof. Müller agreed."}},
		{"Sen. Warren and Gov. Newsom met in St. Louis. Talks ended.", []string{"Sen. Warren and Gov. Newsom met in St. Louis.", "Talks ended."}},
		{"Treffen mit Hr. Schmidt bzw. Fr. Weber, vgl. Abs. 3. Danach Presse.", []string{"Treffen mit Hr. Schmidt bzw. Fr. Weber, vgl. Abs. 3.", "Danach Presse."}},
		{"Встреча прошла в г. Москве на ул. Тверской. Всё.", []string{"Встреча прошла в г. Москве на ул. Тверской.", "Всё."}},
		{"Entrevista com a Dra. Silva e o Sr. Costa. Fim.", []string{"Entrevista com a Dra. Silva e o Sr. Costa.", "Fim."}},
		// Numbers.
		{"Resolution No. 5 passed. No. It failed.", []string{"Resolution No. 5 passed.", "No.", "It failed."}},
		{"Gesetz Nr. 12 gilt. Neu.", []string{"Gesetz Nr. 12 gilt.", "Neu."}},
		{"Growth was 3.5 percent. Inflation 2.1%.", []string{"Growth was 3.5 percent.", "Inflation 2.1%."}},
		{"Am 3. Oktober ist Feiertag. Am 4. Oktober nicht.", []string{"Am 3. Oktober ist Feiertag.", "Am 4. Oktober nicht."}},
		{"Он набрал 5. Потом ушёл.", []string{"Он набрал 5.", "Потом ушёл."}},
		{"Due Jan. 15. Then more.", []string{"Due Jan. 15.", "Then more."}},
		// Ends that are ends.
		{"Visit example.com. Then call.", []string{"Visit example.com.", "Then call."}},
		{`He said "no." Then he left.`, []string{`He said "no."`, "Then he left."}},
		{"«Мы победили!» Так сказал он.", []string{"«Мы победили!»", "Так сказал он."}},
		{"Wait... what? Really! Yes.", []string{"Wait... what?", "Really!", "Yes."}},
		{"Wirklich?! Ja.", []string{"Wirklich?!", "Ja."}},
		{"Shares fell etc. and more. Apple Inc. Shares rose.", []string{"Shares fell etc. and more.", "Apple Inc.", "Shares rose."}},
		{"北京今天下雨。明天晴。", []string{"北京今天下雨。", "明天晴。"}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"", nil},
		{"   ", nil},
	} {
		got := Split(c.in)
		if strings.Join(got, " | ") != strings.Join(c.want, " | ") {
			t.Errorf("Split(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestEndAtOnlyAtStops(t *testing.T) {
	for _, in := range []string{"abc", "a,b", "x: y"} {
		for i := range in {
			if _, ok := EndAt(in, i); ok {
				t.Errorf("EndAt(%q, %d) is an end", in, i)
			}
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"Для S.T.A.L.K.E.R. вышел", "Dr. J. Smith. No. 5.", "…!?\"»", "a.\xff. B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Sentences are trimmed, and scripts that end sentences without a
		// space get none between them: compare without spaces. Each
		// sentence loses its spaces before they are joined, since bytes of
		// invalid UTF-8 on either side of a cut can join into a space
		// ("\xe2\x80" + "\x80" is U+2000).
		var b strings.Builder
		for _, sent := range Split(s) {
			for _, w := range strings.Fields(sent) {
				b.WriteString(w)
			}
		}
		joined := b.String()
		if want := strings.Join(strings.Fields(s), ""); joined != want {
			t.Errorf("Split(%q) lost or added text: %q", s, joined)
		}
	})
}
