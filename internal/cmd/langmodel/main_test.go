package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// protoModel encodes a SerializableLanguageModel the way lingua's files
// hold it, written from the protocol-buffer encoding rules.
func protoModel(n int, sets map[float64][]string) []byte {
	var b []byte
	key := func(num, wire int) { b = binary.AppendUvarint(b, uint64(num<<3|wire)) }
	key(1, wireVarint)
	b = binary.AppendUvarint(b, 17)
	key(2, wireVarint)
	b = binary.AppendUvarint(b, uint64(n))
	for p, grams := range sets {
		var s []byte
		s = binary.AppendUvarint(s, 1<<3|wireFixed64)
		s = binary.LittleEndian.AppendUint64(s, math.Float64bits(p))
		for _, g := range grams {
			s = binary.AppendUvarint(s, 2<<3|wireBytes)
			s = binary.AppendUvarint(s, uint64(len(g)))
			s = append(s, g...)
		}
		key(4, wireBytes)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func writeZip(t *testing.T, path, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeModel(t *testing.T) {
	m, err := decodeModel(protoModel(3, map[float64][]string{0.5: {"abc", "abd"}, 0.001: {"жуй"}}))
	if err != nil {
		t.Fatal(err)
	}
	if m.n != 3 || len(m.prob) != 3 || m.prob["abd"] != 0.5 || m.prob["жуй"] != 0.001 {
		t.Errorf("decoded %+v", m)
	}
	for _, bad := range [][]byte{
		{0x22, 0x05, 0x01}, // length past the end
		protoModel(3, map[float64][]string{0: {"abc"}}), // probability 0
		protoModel(0, map[float64][]string{0.5: {"a"}}), // no n-gram length
	} {
		if _, err := decodeModel(bad); err == nil {
			t.Errorf("decodeModel(% x) accepted", bad)
		}
	}
}

// TestRun converts a lingua-shaped module directory of two languages.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, iso := range []string{"xa", "xb"} {
		for n, name := range []string{"unigram", "bigram", "trigram"} {
			grams := map[float64][]string{1: {strings.Repeat("a", n+1)}, math.Exp(-2.345): {strings.Repeat("b", n+1)}}
			writeZip(t, filepath.Join(dir, "language-models", iso, name+"s.pb.bin.zip"), name+"s.pb.bin", protoModel(n+1, grams))
		}
	}
	out := filepath.Join(t.TempDir(), "ngrams.txt.gz")
	if err := run(dir, out, []string{"xb", "xa"}); err != nil {
		t.Fatal(err)
	}
	b := gunzip(t, out)
	var body []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	want := "languages xa,xb|lang xa|a 0|b 23|aa 0|bb 23|aaa 0|bbb 23|lang xb|a 0|b 23|aa 0|bb 23|aaa 0|bbb 23"
	if got := strings.Join(body, "|"); got != want {
		t.Errorf("model\n got %s\nwant %s", got, want)
	}
	if err := run(dir, out, []string{"xa", "x-b"}); err == nil {
		t.Error("a code that is not ISO 639-1 accepted")
	}
}

// TestShippedModelIsGenerated regenerates the model from lingua-go where
// the module cache holds it (no download) and compares it with the file
// normalize embeds, so that the shipped file is what `make langmodel`
// writes.
func TestShippedModelIsGenerated(t *testing.T) {
	b, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env:", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(b)), Module+"@"+Version)
	if _, err := os.Stat(filepath.Join(dir, "language-models")); err != nil {
		t.Skipf("lingua-go %s is not in the module cache", Version)
	}
	out := filepath.Join(t.TempDir(), "ngrams.txt.gz")
	if err := run(dir, out, strings.Split(defaultLanguages, ",")); err != nil {
		t.Fatal(err)
	}
	// compared uncompressed: another Go release may compress differently
	got, shipped := gunzip(t, out), gunzip(t, filepath.Join("..", "..", "..", "normalize", "langmodel", "ngrams.txt.gz"))
	if !bytes.Equal(got, shipped) {
		t.Error("normalize/langmodel/ngrams.txt.gz differs from what make langmodel writes")
	}
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
