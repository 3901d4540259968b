package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/ingest/replay"
	"github.com/newswire/newswire/wire"
)

// The load of the throughput benchmarks, here and in reliability's
// cluster benchmark: the bundled real data looped with fresh ids, published
// asynchronously.

// Corpus is the bundled real data in dir (testdata/replay), interleaved so
// that a stretch of the wire mixes English headlines, Russian Telegram
// posts and long articles in the files' proportions.
func Corpus(dir string) ([]replay.Item, error) {
	type keyed struct {
		at float64
		it replay.Item
	}
	var all []keyed
	for _, f := range []string{"uci-news-2014-03.jsonl", "telegram-ru-news-sample.jsonl.gz", "ecbplus-dev.jsonl"} {
		items, err := replay.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("bench: corpus: %w", err)
		}
		for i, it := range items {
			all = append(all, keyed{float64(i) / float64(len(items)), it})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at < all[j].at })
	out := make([]replay.Item, len(all))
	for i := range all {
		out[i] = all[i].it
	}
	return out, nil
}

// RawMsg is the message of the i-th item of the corpus looped, observed
// now.
func RawMsg(items []replay.Item, i int) (*nats.Msg, error) {
	return ingest.RawMsg(rawItem(items, i, time.Now().UTC()))
}

// rawItem is the i-th item of the corpus looped: every pass after the
// first republishes each post under a fresh id and at a fresh URL, as a
// syndicated copy would be, so that exact dedupe lets it through and the
// normalizer and synthesizer do the full work for it.
func rawItem(items []replay.Item, i int, observed time.Time) wire.RawItem {
	it := items[i%len(items)]
	round := i / len(items)
	raw := it.Raw(observed)
	if round > 0 {
		raw.NativeID = fmt.Sprintf("%s~%d", it.ID, round)
		raw.URL = copyURL(it, round)
	}
	return raw
}

func copyURL(it replay.Item, round int) string {
	u, err := url.Parse(it.URL)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("https://copy%d.example/%s", round, url.PathEscape(it.ID))
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/copy-%d", round)
	return u.String()
}

// Publish sends msg asynchronously; when too many PubAcks are outstanding
// it waits for them rather than fail, as the eval publisher does.
func Publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) error {
	_, err := js.PublishMsgAsync(msg)
	for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		_, err = js.PublishMsgAsync(msg)
	}
	if err != nil {
		return fmt.Errorf("bench: publish: %w", err)
	}
	return nil
}
