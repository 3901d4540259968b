package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/wire"
)

// TestStagesAsSeparateCommands runs the pipeline the way a cluster
// deployment does: one command per stage, sharing only the NATS server.
func TestStagesAsSeparateCommands(t *testing.T) {
	srv := bustest.Start(t)
	httpPort := freePort(t)
	cfgFile := writeFile(t, "stages.yaml", fmt.Sprintf(`log: {level: warn}
nats:
  urls: [%s]
http:
  listen: 127.0.0.1:%d
synth:
  snapshot_interval: 20ms
`, srv.Embedded.ClientURL(), httpPort))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, stage := range []string{"normalize", "normalize", "synth", "serve"} { // two normalizer replicas
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := dispatch(ctx, []string{stage, "--config", cfgFile}); err != nil {
				errs <- fmt.Errorf("%s: %w", stage, err)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}()

	data, err := os.ReadFile("../../testdata/replay/uci-news-2014-03.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	slice := writeFile(t, "slice.jsonl", strings.Join(strings.SplitN(string(data), "\n", 201)[:200], "\n")+"\n")
	if err := dispatch(ctx, []string{"replay", slice, "--config", cfgFile}); err != nil {
		t.Fatalf("replay: %v", err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		n := -1
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/stories?limit=1000", httpPort)); err == nil {
			var body struct{ Stories []wire.Story }
			if json.NewDecoder(resp.Body).Decode(&body) == nil {
				n = 0
				for _, s := range body.Stories {
					n += s.Counts.Entries
				}
			}
			resp.Body.Close()
		}
		if n >= 195 { // every item but the few exact dedupe may fold
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stories hold %d entries after the deadline", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
