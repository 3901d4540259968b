package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

var update = flag.Bool("update", false, "rewrite the golden entry.json files")

func TestGoldenCases(t *testing.T) {
	det, err := NewNGramDetector(DefaultLanguages())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Detector = det
	cfg.Sources = map[string]provenance.Source{"allafrica": {Code: "ALLAFRICA", Name: "AllAfrica"}}
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*", "raw.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, rawPath := range dirs {
		dir := filepath.Dir(rawPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(rawPath)
			if err != nil {
				t.Fatal(err)
			}
			var raw wire.RawItem
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			e, err := Normalize(cfg, raw, provenance.RawRef{Stream: "WIRE_RAW", Seq: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(e); err != nil {
				t.Fatal(err)
			}
			goldenPath := filepath.Join(dir, "entry.json")
			if *update {
				if err := os.WriteFile(goldenPath, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("entry differs from %s:\ngot:\n%s\nwant:\n%s", goldenPath, got.Bytes(), want)
			}
		})
	}
}
