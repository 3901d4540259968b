// Package ingest is the collector contract: a collector reads one kind of
// source and hands raw items to a Publisher, which puts them on
// wire.raw.<kind>.<source> with a Nats-Msg-Id so nothing is stored twice.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/wire"
)

// Collector reads sources until ctx ends. Run returns nil when ctx is
// cancelled and an error only when the collector cannot go on at all.
type Collector interface {
	Run(ctx context.Context) error
}

// Publisher takes raw items onto the bus.
type Publisher interface {
	Publish(ctx context.Context, item wire.RawItem) (Ack, error)
}

// Ack says where the bus stored an item, and whether it already had it.
type Ack struct {
	Stream    string
	Seq       uint64
	Duplicate bool
}

// ErrInvalidItem is returned for an item without kind, source or native id.
var ErrInvalidItem = errors.New("ingest: raw item needs kind, source and native id")

// JetStreamPublisher publishes raw items to WIRE_RAW and waits for the PubAck.
type JetStreamPublisher struct {
	js jetstream.JetStream
}

// NewJetStreamPublisher returns a Publisher on js.
func NewJetStreamPublisher(js jetstream.JetStream) *JetStreamPublisher {
	return &JetStreamPublisher{js: js}
}

// Publish sends item and returns once JetStream has stored it (or reports
// that it had it already, within the stream's duplicate window).
func (p *JetStreamPublisher) Publish(ctx context.Context, item wire.RawItem) (Ack, error) {
	msg, err := RawMsg(item)
	if err != nil {
		return Ack{}, err
	}
	if limit := p.maxPayload(); limit > 0 && msgSize(msg) > limit {
		// One oversized post must not block its feed: the body is cut to
		// fit, flagged, and everything else the collector saw is kept.
		item.Body = cutBody(item.Body, len(item.Body)-(msgSize(msg)-limit)-4096)
		item.BodyTruncated = true
		if msg, err = RawMsg(item); err != nil {
			return Ack{}, err
		}
	}
	pa, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return Ack{}, fmt.Errorf("ingest: publish %s: %w", msg.Header.Get(bus.HeaderMsgID), err)
	}
	return Ack{Stream: pa.Stream, Seq: pa.Sequence, Duplicate: pa.Duplicate}, nil
}

func (p *JetStreamPublisher) maxPayload() int {
	if nc := p.js.Conn(); nc != nil {
		return int(nc.MaxPayload())
	}
	return 0
}

func msgSize(m *nats.Msg) int {
	n := len(m.Data) + len(m.Subject)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n + 32
}

// cutBody shortens s to at most n bytes at a rune boundary; JSON escaping
// can make the encoded body longer than its bytes, so callers leave room.
func cutBody(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RawMsg builds the NATS message of a raw item: its subject, its JSON body
// and its Nats-Msg-Id. A collector reports that a post was deleted at its
// source by publishing the post's raw item again with Deleted set; such an
// item gets its own Nats-Msg-Id and the normalizer turns it into a
// withdrawal of the post's entry.
func RawMsg(item wire.RawItem) (*nats.Msg, error) {
	if item.Kind == "" || item.Source == "" || item.NativeID == "" {
		return nil, ErrInvalidItem
	}
	item.Schema = wire.SchemaRaw
	data, err := json.Marshal(item)
	if err != nil {
		return nil, fmt.Errorf("ingest: encode raw item: %w", err)
	}
	msg := nats.NewMsg(bus.RawSubject(item.Kind, item.Source))
	msg.Data = data
	id := bus.RawMsgID(item.Kind, item.Source, item.NativeID)
	if item.Deleted {
		id = bus.WithdrawalMsgID(id)
	}
	msg.Header.Set(bus.HeaderMsgID, id)
	return msg, nil
}
