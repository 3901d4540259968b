package words

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"Fed's Plosser: 'no change' in 2014": {"fed's", "plosser", "no", "change", "in", "2014"},
		"Власти Москвы — продлили":            {"власти", "москвы", "продлили"},
		"北京时间 today":                          {"北", "京", "时", "间", "today"},
		"مقتل نائب رئيس":                      {"مقتل", "نائب", "رئيس"},
		"":                                    {},
	} {
		if got := Split(in); !slices.Equal(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}
