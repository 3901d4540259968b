package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/bus/bustest"
	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

func TestOversizedBodyIsCutToFitNotLost(t *testing.T) {
	srv := bustest.Start(t)
	pub := ingest.NewJetStreamPublisher(srv.JS)
	ctx := context.Background()
	item := wire.RawItem{Kind: "rss", Source: "big", NativeID: "1", Title: "Budget tables", URL: "https://big.example/1",
		Body: strings.Repeat("<td>1 234,5 € – Ünïcödé</td>", 400_000), BodyFormat: wire.FormatHTML, ObservedAt: time.Now()}
	if len(item.Body) <= 8<<20 {
		t.Fatalf("test body of %d bytes does not exceed the payload limit", len(item.Body))
	}
	ack, err := pub.Publish(ctx, item)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	s, _ := srv.JS.Stream(ctx, bus.StreamRaw)
	m, err := s.GetMsg(ctx, ack.Seq)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.RawItem
	if err := json.Unmarshal(m.Data, &got); err != nil {
		t.Fatal(err)
	}
	if !got.BodyTruncated || got.Title != item.Title || len(got.Body) == 0 || !strings.HasPrefix(item.Body, got.Body) {
		t.Errorf("stored item: truncated=%v title=%q body %d bytes", got.BodyTruncated, got.Title, len(got.Body))
	}
	// A normal item is untouched.
	small := item
	small.NativeID, small.Body = "2", "short"
	ack, err = pub.Publish(ctx, small)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = s.GetMsg(ctx, ack.Seq)
	if strings.Contains(string(m.Data), "body_truncated") {
		t.Errorf("small item flagged: %s", m.Data)
	}
}
