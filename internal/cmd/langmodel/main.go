// Command langmodel writes normalize's language model
// (normalize/langmodel/ngrams.txt.gz) from the character n-gram files of
// lingua-go v1.4.0 (Apache-2.0, © Peter M. Stahl), read as data from the
// Go module cache: the unigram, bigram and trigram relative frequencies
// of each language, quantized. It imports nothing of lingua.
//
//	make langmodel
//	go run ./internal/cmd/langmodel -lingua DIR -out normalize/langmodel/ngrams.txt.gz [-languages en,ru,...]
//
// Without -lingua it asks the go command for the module's directory
// (go mod download -json github.com/pemistahl/lingua-go@v1.4.0), which
// needs the module proxy or a module cache that holds it; the main module
// does not require lingua-go.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// Module is the lingua-go release whose models are converted. Its
// go.sum hash is checked, so a different or altered copy is refused.
const (
	Module    = "github.com/pemistahl/lingua-go"
	Version   = "v1.4.0"
	ModuleSum = "h1:ifYhthrlW7iO4icdubwlduYnmwU37V1sbNrwhKBR4rM="
)

// defaultLanguages are the languages that need a model among
// normalize.DefaultLanguages: zh, ja, ko, he and hi own their scripts and
// are told by script rules alone. Kept here, not imported, so that the
// generator builds without the package it generates for.
var defaultLanguages = "ar,be,bg,de,en,es,fa,fr,id,it,kk,nl,pl,pt,ru,sr,sw,tr,uk,ur"

// Scale quantizes a probability p as round(-ln(p) * Scale), so one step
// is 0.1 nat; the rarest n-grams lingua keeps (p ≈ 1e-8) stay under 255.
const Scale = 10

func main() {
	dir := flag.String("lingua", "", "lingua-go "+Version+" module directory (default: ask go mod download)")
	out := flag.String("out", "normalize/langmodel/ngrams.txt.gz", "model file to write")
	langs := flag.String("languages", defaultLanguages, "comma-separated ISO 639-1 codes")
	flag.Parse()
	if err := run(*dir, *out, strings.Split(*langs, ",")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir, out string, langs []string) error {
	if dir == "" {
		d, err := moduleDir()
		if err != nil {
			return err
		}
		dir = d
	}
	sort.Strings(langs)
	for _, iso := range langs {
		if len(iso) != 2 || strings.ToLower(iso) != iso {
			return fmt.Errorf("langmodel: %q is not an ISO 639-1 code", iso)
		}
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(zw)
	if err := write(w, dir, langs); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("langmodel: %w", err)
	}
	fmt.Fprintf(os.Stderr, "langmodel: wrote %s (%d bytes, %d languages)\n", out, buf.Len(), len(langs))
	return nil
}

// write emits the model as text: a header of comments, a line
// "languages <iso>,<iso>,…", then for each language a line "lang <iso>"
// and one line "<n-gram> <q>" per n-gram: unigrams, bigrams, trigrams,
// each sorted.
func write(w io.Writer, dir string, langs []string) error {
	fmt.Fprintf(w, "# newswire language model: character n-grams (n = 1, 2, 3) within words, lower case.\n")
	fmt.Fprintf(w, "# <n-gram> <q>: q = round(-ln(p) * %d), p = P(last letter | the letters before it), or P(letter) for n = 1.\n", Scale)
	fmt.Fprintf(w, "# Converted from the models of %s %s (Apache-2.0, Copyright Peter M. Stahl); see README.md and NOTICE.\n", Module, Version)
	fmt.Fprintf(w, "languages %s\n", strings.Join(langs, ","))
	for _, iso := range langs {
		fmt.Fprintf(w, "lang %s\n", iso)
		for _, name := range []string{"unigram", "bigram", "trigram"} {
			m, err := readLinguaModel(dir, iso, name)
			if err != nil {
				return err
			}
			grams := make([]string, 0, len(m.prob))
			for g := range m.prob {
				if strings.ContainsAny(g, " \n") {
					return fmt.Errorf("%w: n-gram %q holds a separator", errFormat, g)
				}
				grams = append(grams, g)
			}
			sort.Strings(grams)
			for _, g := range grams {
				fmt.Fprintf(w, "%s %d\n", g, quantize(m.prob[g]))
			}
		}
	}
	return nil
}

func quantize(p float64) int {
	return min(int(math.Round(-math.Log(p)*Scale)), 254)
}

// moduleDir finds lingua-go in the module cache, downloading it through
// the go command if needed, and checks its hash.
func moduleDir() (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", Module+"@"+Version)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("langmodel: go mod download %s@%s: %w", Module, Version, err)
	}
	var info struct{ Dir, Sum, Error string }
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("langmodel: go mod download: %w", err)
	}
	switch {
	case info.Error != "":
		return "", errors.New("langmodel: go mod download: " + info.Error)
	case info.Sum != ModuleSum:
		return "", fmt.Errorf("langmodel: %s@%s has hash %s, want %s", Module, Version, info.Sum, ModuleSum)
	}
	return info.Dir, nil
}
