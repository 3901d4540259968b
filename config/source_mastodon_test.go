package config

import (
	"strings"
	"testing"
)

func TestMastodonSources(t *testing.T) {
	t.Setenv("NEWSWIRE_TEST_MASTODON", "tok")
	cfg, err := Parse([]byte(`sources:
  - {id: a, kind: mastodon, instance: "https://mastodon.social", account: "@Gargron", exclude_replies: true, recheck: 5}
  - {id: b, kind: mastodon, instance: "https://mastodon.social/", hashtag: "#breaking"}
  - {id: c, kind: mastodon, instance: "https://example.social", list: "42", access_token: env:NEWSWIRE_TEST_MASTODON}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources[0].Account != "@Gargron" || cfg.Sources[1].Hashtag != "#breaking" || cfg.Sources[2].AccessToken.Value() != "tok" {
		t.Errorf("read %+v", cfg.Sources)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"sources:\n  - {id: a, kind: mastodon, account: x}\n", "sources[0].instance: is required"},
		{"sources:\n  - {id: a, kind: mastodon, instance: \"ftp://m.s\", account: x}\n", "sources[0].instance: must be an http(s) URL"},
		{"sources:\n  - {id: a, kind: mastodon, instance: \"https://m.s\", account: x, hashtag: y}\n", "line 2: sources[0]: a mastodon source reads exactly one of account, hashtag and list"},
		{"sources:\n  - {id: a, kind: mastodon, instance: \"https://m.s\", list: \"7\"}\n", "sources[0].access_token: is required for a list"},
		{"sources:\n  - {id: a, kind: mastodon, instance: \"https://m.s\", hashtag: \"no spaces\"}\n", "sources[0].hashtag: \"no spaces\" is not a hashtag"},
		{"sources:\n  - {id: a, kind: mastodon, instance: \"https://m.s\", account: x, access_token: env:NEWSWIRE_TEST_MASTODON_UNSET}\n", "sources[0].access_token: NEWSWIRE_TEST_MASTODON_UNSET: environment variable is not set"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
