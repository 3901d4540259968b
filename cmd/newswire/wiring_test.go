package main

import (
	"flag"
	"reflect"
	"slices"
	"testing"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/synth"
)

// TestDefaultSynthConfigsAgree ties the config file's synth defaults to
// the package's: a default added or changed on one side only would make
// `newswire run` cluster differently from the documented defaults.
func TestDefaultSynthConfigsAgree(t *testing.T) {
	cfg := config.Default()
	got, err := synthConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := synth.DefaultConfig()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config.Default gives the synthesizer\n%+v\nsynth.DefaultConfig is\n%+v", got, want)
	}
}

// TestSplitPositionalAsksTheFlagSet: the positional argument is the first
// that is neither a flag nor the value of a flag that takes one, whatever
// the flag; a bool flag takes no value, so the argument after it is the
// positional one.
func TestSplitPositionalAsksTheFlagSet(t *testing.T) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.Int("rounds", 1, "")
	fs.Float64("min-leaf", 0, "")
	fs.Bool("orders", false, "")
	fs.String("sidecar", "", "") // a name no command has: the set decides, not a list
	for _, c := range []struct {
		args []string
		file string
		rest []string
	}{
		{[]string{"--rounds", "2", "a.jsonl"}, "a.jsonl", []string{"--rounds", "2"}},
		{[]string{"-min-leaf", "50", "a.jsonl", "--orders"}, "a.jsonl", []string{"-min-leaf", "50", "--orders"}},
		{[]string{"--orders", "a.jsonl"}, "a.jsonl", []string{"--orders"}},
		{[]string{"--rounds=2", "a.jsonl"}, "a.jsonl", []string{"--rounds=2"}},
		{[]string{"--rounds", "2"}, "", []string{"--rounds", "2"}},
		{[]string{"--sidecar", "x.json", "a.jsonl"}, "a.jsonl", []string{"--sidecar", "x.json"}},
	} {
		file, rest := splitPositional(fs, c.args)
		if file != c.file || !slices.Equal(rest, c.rest) {
			t.Errorf("%q: file %q, rest %q; want %q, %q", c.args, file, rest, c.file, c.rest)
		}
	}
}
