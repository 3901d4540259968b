package main

import (
	"reflect"
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
