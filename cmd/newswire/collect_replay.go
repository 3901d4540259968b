package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/newswire/newswire/config"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
)

// buildReplay builds the collectors of the replay sources; each keeps its
// position in wire_source and resumes there after a restart.
func buildReplay(p *parts, pub ingest.Publisher, sources []config.Source) ([]namedCollector, error) {
	kv, err := p.sourceBucket(context.Background(), "replay")
	if err != nil {
		return nil, err
	}
	var out []namedCollector
	for _, s := range sources {
		c, err := replay.New(replay.Config{ID: s.ID, Path: s.Path, Speed: s.Speed}, pub, kv, p.log.Named("replay").With(zap.String("source", s.ID)))
		if err != nil {
			return nil, fmt.Errorf("sources %s: %w", s.ID, err)
		}
		out = append(out, namedCollector{"replay " + s.ID, c})
	}
	return out, nil
}
