package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const importBase = `# newswire test configuration
data_dir: /tmp/newswire-import-test
sources:
  # the one feed we had
  - {id: bbc-world, kind: rss, code: BBC, name: "BBC World", url: "https://feeds.example.org/bbc.xml"}
`

func TestNewSourcesSkipsKnownFeedsAndMakesUniqueIDs(t *testing.T) {
	configured := []Source{{ID: "bbc-world", Kind: "rss", URL: "https://feeds.example.org/bbc.xml"}}
	feeds := []Feed{
		{Title: "BBC World", URL: "https://feeds.example.org/bbc.xml"},                         // already read
		{Title: "BBC World", URL: "https://feeds.example.org/bbc-2.xml", Tags: []string{"uk"}}, // same title
		{Title: "", URL: "https://news.example.net/rss"},                                       // no title: the host
		{Title: "Агентство «Новости»", URL: "https://ru.example.org/rss"},                      // nothing left of the title
		{Title: "A Very Long Feed Title That Goes On And On Beyond Forty Letters", URL: "https://long.example.org/"},
		{Title: "Second", URL: "https://news.example.net/rss"}, // a URL given twice in the file
	}
	entries, known := NewSources(feeds, configured, "10m")
	if known != 2 || len(entries) != 4 {
		t.Fatalf("%d entries, %d known; want 4 and 2", len(entries), known)
	}
	block, err := SourcesBlock(entries)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte("data_dir: /tmp/x\n" + string(block)))
	if err != nil {
		t.Fatalf("the block is not a valid configuration: %v\n%s", err, block)
	}
	want := []struct{ id, code, url string }{
		{"bbc-world-2", "BBC-WORLD-2", "https://feeds.example.org/bbc-2.xml"},
		{"news-example-net-rss", "NEWS-EXAMPLE-NET", "https://news.example.net/rss"},
		{"feed", "FEED", "https://ru.example.org/rss"},
		{"a-very-long-feed-title-that-goes-on-and", "A-VERY-LONG-FEED", "https://long.example.org/"},
	}
	for i, w := range want {
		s := cfg.Sources[i]
		if s.ID != w.id || s.Code != w.code || s.URL != w.url || s.Kind != "rss" || time.Duration(s.Interval) != 10*time.Minute {
			t.Errorf("source %d = %+v, want id %s code %s url %s", i, s, w.id, w.code, w.url)
		}
	}
	if tags := cfg.Sources[0].Tags; len(tags) != 1 || tags[0] != "uk" {
		t.Errorf("tags %v", tags)
	}
}

func TestAppendSourcesKeepsTheFile(t *testing.T) {
	entries, _ := NewSources([]Feed{{Title: "Reuters", URL: "https://feeds.example.org/reuters.xml"}}, nil, "")
	out, err := AppendSources([]byte(importBase), entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []string{"# newswire test configuration", "# the one feed we had", "id: bbc-world"} {
		if !strings.Contains(string(out), keep) {
			t.Errorf("%q is gone:\n%s", keep, out)
		}
	}
	cfg, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[1].ID != "reuters" {
		t.Fatalf("sources %+v", cfg.Sources)
	}
	// No sources key, an empty one, and a flow list all take entries.
	for _, base := range []string{"data_dir: /tmp/x\n", "data_dir: /tmp/x\nsources:\n", "data_dir: /tmp/x\nsources: []\n"} {
		out, err := AppendSources([]byte(base), entries)
		if err != nil {
			t.Fatalf("%q: %v", base, err)
		}
		if cfg, err := Parse(out); err != nil || len(cfg.Sources) != 1 {
			t.Fatalf("%q gave %v, %v:\n%s", base, cfg, err, out)
		}
	}
	// An empty file or one of comments only takes entries as well.
	for _, base := range []string{"", "# nothing yet\n"} {
		out, err := AppendSources([]byte(base), entries)
		if err != nil {
			t.Fatalf("%q: %v", base, err)
		}
		if cfg, err := Parse(out); err != nil || len(cfg.Sources) != 1 {
			t.Fatalf("%q gave %v, %v:\n%s", base, cfg, err, out)
		}
	}
	// A feed whose title reads as another YAML type stays text.
	odd, _ := NewSources([]Feed{{Title: "Null", URL: "https://null.example.org/rss", Tags: []string{"yes", "~"}}}, nil, "")
	out, err = AppendSources([]byte("data_dir: /tmp/x\n"), odd)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := Parse(out); err != nil || cfg.Sources[0].ID != "null" || cfg.Sources[0].Name != "Null" || strings.Join(cfg.Sources[0].Tags, ",") != "yes,~" {
		t.Fatalf("odd titles: %+v %v\n%s", cfg, err, out)
	}
	// A file that is no mapping, or whose sources is no list, is refused.
	for _, bad := range []string{"- a\n- b\n", "sources: 3\n"} {
		if _, err := AppendSources([]byte(bad), entries); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	// A result that would not be a valid configuration is refused too:
	// here the existing id clashes with the new one.
	clash := "data_dir: /tmp/x\nsources:\n  - {id: reuters, kind: rss, url: \"https://other.example.org/\"}\n"
	if _, err := AppendSources([]byte(clash), entries); err == nil {
		t.Error("a duplicate id was accepted")
	}
}

func TestReplaceFileKeepsModeAndBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "newswire.yaml")
	if err := os.WriteFile(path, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	bak, _ := os.ReadFile(path + ".bak")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new\n" || string(bak) != "old\n" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("file %q, backup %q, mode %v", got, bak, fi.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".newswire-config-*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// A link is followed: the file it points to is replaced.
	link := filepath.Join(t.TempDir(), "link.yaml")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(link, []byte("via link\n")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "via link\n" {
		t.Fatalf("target holds %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a file: %v %v", fi.Mode(), err)
	}
	if err := ReplaceFile(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Fatal("replacing a missing file succeeded")
	}
}
