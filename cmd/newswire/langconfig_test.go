package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigUnsupportedLanguage: a language the detector does not know is
// a configuration error at load, under its key, listing what is supported.
func TestConfigUnsupportedLanguage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newswire.yaml")
	if err := os.WriteFile(path, []byte("data_dir: "+t.TempDir()+"\nnormalize:\n  languages: [en, ru, cs]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadConfig(path)
	if err == nil {
		t.Fatal("config with normalize.languages [en, ru, cs] accepted")
	}
	for _, want := range []string{"normalize.languages", `"cs"`, "supported: ar, be, bg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}
