package config

import (
	"strings"
	"testing"
	"time"
)

func TestXSources(t *testing.T) {
	t.Setenv("NEWSWIRE_TEST_X", "tok")
	cfg, err := Parse([]byte(`x: {bearer_token: env:NEWSWIRE_TEST_X}
sources:
  - {id: a, kind: x, user: "@Reuters", user_id: "1652541", exclude_retweets: true}
  - {id: b, kind: x, list_id: "1234", max_pages: 3}
  - {id: c, kind: x, query: "quake lang:en", interval: 1h}
  - {id: d, kind: x, user: Reuters, recheck: 20, recheck_interval: 6h}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.X.BearerToken.Value() != "tok" || cfg.Sources[0].User != "@Reuters" || cfg.Sources[1].ListID != "1234" || cfg.Sources[1].MaxPages != 3 {
		t.Errorf("read %+v", cfg)
	}
	if d := cfg.Sources[3]; d.Recheck != 20 || d.RecheckInterval != Duration(6*time.Hour) || cfg.Sources[0].Recheck != 0 {
		t.Errorf("recheck read as %d every %v (a: %d)", d.Recheck, d.RecheckInterval, cfg.Sources[0].Recheck)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"sources:\n  - {id: a, kind: x, user: Reuters}\n", "x.bearer_token: is required for x sources"},
		{"x: {bearer_token: t}\nsources:\n  - {id: a, kind: x, user: Reuters, query: q}\n", "line 3: sources[0]: an x source reads exactly one of user, list_id and query"},
		{"x: {bearer_token: t}\nsources:\n  - {id: a, kind: x, user: \"no such name!\"}\n", "sources[0].user: \"no such name!\" is not an X username"},
		{"x: {bearer_token: t}\nsources:\n  - {id: a, kind: x, list_id: abc}\n", "sources[0].list_id: must be a numeric list id"},
		{"x: {bearer_token: t, max_results: 500}\n", "x.max_results: must be within 10..100"},
		{"x: {bearer_token: t}\nsources:\n  - {id: a, kind: x, user: Reuters, recheck: 501}\n", "sources[0].recheck: must be within 0..500"},
		{"x: {bearer_token: t}\nsources:\n  - {id: a, kind: x, user: Reuters, recheck: 5, recheck_interval: 30s}\n", "sources[0].recheck_interval: must be at least 1m"},
		{"x: {bearer_token: env:NEWSWIRE_TEST_X_UNSET}\n", "x.bearer_token: NEWSWIRE_TEST_X_UNSET: environment variable is not set"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
