package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/deploy"
)

func TestShippedConfigsAreValid(t *testing.T) {
	cfg, err := Parse(deploy.DefaultConfig)
	if err != nil {
		t.Fatalf("deploy/newswire.yaml: %v", err)
	}
	if len(cfg.Sources) == 0 || cfg.NATS.Embedded.SyncInterval != "always" {
		t.Errorf("default config: %d sources, sync %q", len(cfg.Sources), cfg.NATS.Embedded.SyncInterval)
	}
	for _, f := range []string{"../deploy/demo.yaml"} {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestEveryProblemIsReportedWithItsPath(t *testing.T) {
	in := `data_dir: x
colour: blue
nats:
  embedded:
    sync_interval: sometimes
  urls: ["http://nats:4222"]
synth:
  threshold: 2
sources:
  - {id: a, kind: rss, url: "ftp://x"}
  - {id: a, kind: pigeon}
  - kind: replay
`
	_, err := Parse([]byte(in))
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("err = %T %v, want Problems", err, err)
	}
	want := []string{
		"line 2: unknown key colour",
		"line 5: nats.embedded.sync_interval:",
		"line 6: nats.urls[0]:",
		"line 8: synth.threshold:",
		"line 10: sources[0].url:",
		`line 11: sources[1].id: "a" is already used`,
		"line 11: sources[1].kind: must be one of",
		"line 12: sources[2].id: is required",
		"line 12: sources[2].path: is required",
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ps), len(want), got)
	}
}

func TestMalformedYAML(t *testing.T) {
	_, err := Parse([]byte("sources: [\n  - id: a\n"))
	if err == nil || !strings.Contains(err.Error(), "not valid YAML") {
		t.Fatalf("err = %v", err)
	}
}

func TestSecretsFromEnvAndFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NEWSWIRE_TEST_TOKEN", "tok")
	cfg, err := Parse([]byte("nats:\n  user: u\n  password: file:" + pw + "\n  token: env:NEWSWIRE_TEST_TOKEN\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Password.Value() != "s3cret" || cfg.NATS.Token.Value() != "tok" {
		t.Errorf("secrets = %q %q", cfg.NATS.Password.Value(), cfg.NATS.Token.Value())
	}
	if s := cfg.NATS.Password.String(); strings.Contains(s, "s3cret") {
		t.Errorf("secret printed: %s", s)
	}
	_, err = Parse([]byte("nats:\n  token: env:NEWSWIRE_TEST_UNSET_VAR\n"))
	if err == nil || !strings.Contains(err.Error(), "nats.token: NEWSWIRE_TEST_UNSET_VAR") {
		t.Errorf("unset env secret: %v", err)
	}
}

func TestDurationsAndSizes(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "7d": 7 * 24 * time.Hour, "1.5h": 90 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]int64{"8MiB": 8 << 20, "10GiB": 10 << 30, "1MB": 1e6, "512": 512} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseSize("lots"); err == nil {
		t.Error("ParseSize accepted garbage")
	}
}

func TestProblemsHideURLPasswords(t *testing.T) {
	_, err := Parse([]byte("nats:\n  urls: [\"http://newswire:Hunter2-xyz@nats.example:4222\"]\n"))
	if err == nil || strings.Contains(err.Error(), "Hunter2-xyz") || !strings.Contains(err.Error(), "line 2: nats.urls[0]") {
		t.Fatalf("problem with a password in the URL: %v", err)
	}
}
