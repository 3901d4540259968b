package rss

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecodeParse drives the path a fetched body takes: charset detection
// and decoding, feed parsing, hub discovery and item identity. Whatever the
// bytes, it must return an error or items, never panic. It is seeded with
// ingest/rss/testdata and the real captures in testdata/captures.
func FuzzDecodeParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	captures, _ := filepath.Glob(filepath.Join(capturesDir, "*.*"))
	files = append(files, captures...)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "application/rss+xml")
		f.Add(b, "text/xml; charset=windows-1251")
		f.Add(b, "")
	}
	f.Add([]byte("\xff\xfe<\x00?\x00x\x00m\x00l\x00"), "")
	f.Add([]byte(`<?xml version="1.0" encoding="bogus-8"?><rss/>`), "text/xml; charset=\"utf-8")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		c := &Collector{}
		c.log = nopLogger()
		doc, err := c.decode(Feed{ID: "fuzz"}, &response{Body: body, ContentType: contentType})
		if err != nil {
			return
		}
		for _, cand := range candidates(Feed{ID: "fuzz"}, doc, time.Unix(0, 0)) {
			if cand.raw.NativeID == "" || cand.key == "" {
				t.Fatalf("item without identity: %+v", cand.raw)
			}
		}
	})
}
