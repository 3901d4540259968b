package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestConfigCheckRefusesWhatStartupRefuses: settings only a component
// refuses (synth.window 0s was passed by `config check` and then refused
// by the synthesizer) fail `config check` and every command's start alike,
// with the line of the key.
func TestConfigCheckRefusesWhatStartupRefuses(t *testing.T) {
	cfgFile := writeFile(t, "drift.yaml", fmt.Sprintf(`data_dir: %s
synth:
  window: 0s
  stale_after: 24h
normalize:
  fingerprint_ttl: 0s
`, t.TempDir()))
	want := []string{
		"line 3: synth.window: must be positive",
		"line 6: normalize.fingerprint_ttl: must be at least 1s",
	}
	restore := captureStderr(t)
	err := dispatch(context.Background(), []string{"config", "check", cfgFile})
	out := restore()
	if err == nil {
		t.Fatal("config check passed a configuration the synthesizer refuses")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("config check output lacks %q:\n%s", w, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, cmd := range []string{"run", "synth", "normalize", "serve", "collect", "tail"} {
		err := dispatch(ctx, []string{cmd, "--config", cfgFile})
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s started with the same file: %v", cmd, err)
			}
		}
	}
	good := writeFile(t, "good.yaml", fmt.Sprintf("data_dir: %s\n", t.TempDir()))
	restore = captureStderr(t)
	err = dispatch(context.Background(), []string{"config", "check", good})
	out = restore()
	if err != nil {
		t.Errorf("config check of a good file: %v\n%s", err, out)
	}
}
