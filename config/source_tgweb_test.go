package config

import (
	"strings"
	"testing"
)

func TestTgwebBaseURL(t *testing.T) {
	cfg, err := Parse([]byte(`sources:
  - {id: a, kind: tgweb, channel: "@reuters"}
  - {id: b, kind: tgweb, channel: "@reuters", base_url: "http://127.0.0.1:8080/tg/"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources[0].BaseURL != "" || cfg.Sources[1].BaseURL != "http://127.0.0.1:8080/tg/" {
		t.Errorf("base_url read as %q, %q", cfg.Sources[0].BaseURL, cfg.Sources[1].BaseURL)
	}
	for _, bad := range []string{"t.me", "ftp://t.me", "https://t.me/?x=1", "https://t.me/#s", "https://u:p@t.me", "https://"} {
		_, err := Parse([]byte("sources:\n  - {id: a, kind: tgweb, channel: \"@reuters\", base_url: \"" + bad + "\"}\n"))
		if err == nil || !strings.Contains(err.Error(), "line 2: sources[0].base_url: must be an http(s) URL") {
			t.Errorf("base_url %q: %v", bad, err)
		}
	}
}
