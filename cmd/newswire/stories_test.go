package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/normalize"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/synth"
	"github.com/newswire/newswire/web"
	"github.com/newswire/newswire/wire"
)

// capture runs fn with os.Stdout going to a pipe and returns what it wrote.
func capture(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	ferr := fn()
	os.Stdout = old
	w.Close()
	return <-out, ferr
}

// realEntries normalizes the first n rows of a bundled replay file with
// the production code, as the normalizer stage would.
func realEntries(t *testing.T, name string, n int) []wire.Entry {
	t.Helper()
	items, err := replay.ReadFile("../../testdata/replay/" + name)
	if err != nil {
		t.Fatal(err)
	}
	ncfg := normalize.DefaultConfig()
	ncfg.Languages = []string{}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var out []wire.Entry
	for i, it := range items[:n] {
		raw := it.Raw(at.Add(time.Duration(i) * time.Second))
		raw.Source = bus.Token(raw.Source)
		e, err := normalize.Normalize(ncfg, raw, provenance.RawRef{Stream: bus.StreamRaw, Seq: uint64(i + 1), MsgID: fmt.Sprintf("replay:%s:%s", raw.Source, raw.NativeID)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// publishRealStories normalizes and clusters bundled UCI rows with the
// production code and publishes the stories' snapshots on srv.
func publishRealStories(t *testing.T, srv *bustest.Server, n int) map[string]wire.Story {
	t.Helper()
	cl, err := synth.NewClusterer(synth.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range realEntries(t, "uci-news-2014-03.jsonl", n) {
		cl.Add(e)
	}
	out := map[string]wire.Story{}
	ids := cl.TakeDirty()
	sort.Strings(ids)
	for _, id := range ids {
		st, _ := cl.Snapshot(id)
		out[id] = st
		b, _ := json.Marshal(st)
		if _, err := srv.JS.Publish(context.Background(), bus.StorySubject(id), b); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestStoriesAndStoryCommands(t *testing.T) {
	srv := bustest.Start(t)
	stories := publishRealStories(t, srv, 300)
	cfg := writeFile(t, "cli.yaml", fmt.Sprintf("log: {level: error}\nnats:\n  urls: [%s]\n", srv.Embedded.ClientURL()))
	ctx := context.Background()

	out, err := capture(t, func() error { return dispatch(ctx, []string{"stories", "--config", cfg, "--json", "--limit", "5"}) })
	if err != nil {
		t.Fatalf("stories: %v", err)
	}
	var listed struct{ Stories []web.RankedStory }
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("stories --json: %v\n%s", err, out)
	}
	if len(listed.Stories) != 5 {
		t.Fatalf("stories --limit 5 printed %d", len(listed.Stories))
	}
	for i, st := range listed.Stories {
		if i > 0 && st.Rank > listed.Stories[i-1].Rank {
			t.Errorf("stories not ranked: %v after %v", st.Rank, listed.Stories[i-1].Rank)
		}
	}
	top := stories[listed.Stories[0].ID]
	if top.Counts.Origins < 2 {
		t.Errorf("top story %s has %d independent sources", top.ID, top.Counts.Origins)
	}
	out, err = capture(t, func() error { return dispatch(ctx, []string{"stories", "--config", cfg}) })
	if err != nil || !strings.HasPrefix(out, "ID") || !strings.Contains(out, top.ID) {
		t.Errorf("stories table: %v\n%s", err, out)
	}

	out, err = capture(t, func() error { return dispatch(ctx, []string{"story", top.ID, "--config", cfg}) })
	if err != nil || !strings.HasPrefix(out, "# ") || !strings.Contains(out, "### Wire provenance") || !strings.Contains(out, " [1") {
		t.Errorf("story as md: %v\n%s", err, out)
	}
	out, err = capture(t, func() error { return dispatch(ctx, []string{"story", "--format", "json", top.ID, "--config", cfg}) })
	var got wire.Story
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.ID != top.ID || len(got.Provenance) != len(top.Provenance) {
		t.Errorf("story as json: %v\n%.300s", err, out)
	}
	out, err = capture(t, func() error { return dispatch(ctx, []string{"story", top.ID, "--format=html", "--config", cfg}) })
	if err != nil || !strings.Contains(out, `<li id="p1"`) {
		t.Errorf("story as html: %v\n%.300s", err, out)
	}
	if _, err = capture(t, func() error { return dispatch(ctx, []string{"story", "s0000", "--config", cfg}) }); err == nil || !strings.Contains(err.Error(), "no story") {
		t.Errorf("unknown story: %v", err)
	}
	var ue usageError
	if _, err = capture(t, func() error { return dispatch(ctx, []string{"story", top.ID, "--format", "pdf", "--config", cfg}) }); !errors.As(err, &ue) {
		t.Errorf("bad format: %v", err)
	}
}

// Commands that need the bus fail, non-zero, with a hint at --config when
// it cannot be reached; sources no longer prints a table of "unknown".
func TestCommandsWithoutBusSuggestConfig(t *testing.T) {
	cfg := writeFile(t, "nobus.yaml", fmt.Sprintf("log: {level: error}\nnats:\n  urls: [nats://127.0.0.1:%d]\n", freePort(t)))
	for _, cmd := range [][]string{{"sources"}, {"stories"}, {"story", "s1"}, {"tail"}} {
		out, err := capture(t, func() error { return dispatch(context.Background(), append(cmd, "--config", cfg)) })
		if err == nil || !strings.Contains(err.Error(), "cannot reach NATS") || !strings.Contains(err.Error(), "--config FILE") {
			t.Errorf("%s without a bus: %v", cmd[0], err)
		}
		if out != "" {
			t.Errorf("%s printed %q though it has no answer", cmd[0], out)
		}
	}
}

func TestEveryCommandHelpListsItsFlagsWithAnExample(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"tail":    {"-config", "-last", "-kind", "-source", "-json"},
		"stories": {"-config", "-active", "-limit", "-json"},
		"story":   {"-config", "-format"},
		"run":     {"-config"},
		"replay":  {"-speed", "-limit", "-config"},
	} {
		out, err := capture(t, func() error { return dispatch(context.Background(), []string{cmd, "--help"}) })
		if !errors.Is(err, errHelp) {
			t.Errorf("%s --help: %v", cmd, err)
		}
		for _, f := range flags {
			if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
				t.Errorf("%s --help does not list %s:\n%s", cmd, f, out)
			}
		}
		if !strings.Contains(out, "example:\n  newswire "+cmd) {
			t.Errorf("%s --help has no example:\n%s", cmd, out)
		}
	}
}
