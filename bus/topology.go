package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Topology holds the settings of the shared streams and buckets. The zero
// value is not useful; start from DefaultTopology.
type Topology struct {
	Storage         jetstream.StorageType
	Replicas        int
	RawMaxAge       time.Duration
	EntryMaxAge     time.Duration
	StoryMaxAge     time.Duration
	DLQMaxAge       time.Duration
	DuplicateWindow time.Duration
	// StoryHistory is how many snapshots per story the stream keeps.
	StoryHistory int64
	// MaxMsgSize caps one message in each stream; zero leaves the server's max payload.
	MaxMsgSize int32
	// FingerprintMarkerTTL is how long wire_fp keeps markers of expired keys.
	FingerprintMarkerTTL time.Duration
}

// DefaultTopology is the design's topology on file storage with one replica.
func DefaultTopology() Topology {
	return Topology{
		Storage:              jetstream.FileStorage,
		Replicas:             1,
		RawMaxAge:            7 * 24 * time.Hour,
		EntryMaxAge:          30 * 24 * time.Hour,
		StoryMaxAge:          30 * 24 * time.Hour,
		DLQMaxAge:            30 * 24 * time.Hour,
		DuplicateWindow:      10 * time.Minute,
		StoryHistory:         16,
		FingerprintMarkerTTL: time.Hour,
	}
}

// MaxDeliveriesAdvisories is the subject on which JetStream announces a
// message that reached a consumer's MaxDeliver; WIRE_DLQ keeps them.
const MaxDeliveriesAdvisories = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"

// Streams returns the stream configurations of the topology.
func (t Topology) Streams() []jetstream.StreamConfig {
	base := func(name, desc string, subjects []string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
			MaxAge:      maxAge,
			Duplicates:  t.DuplicateWindow,
			MaxMsgSize:  t.MaxMsgSize,
			Discard:     jetstream.DiscardOld,
		}
	}
	raw := base(StreamRaw, "raw items as collectors saw them", []string{SubjectRawAll}, t.RawMaxAge)
	entry := base(StreamEntry, "normalized wire entries", []string{SubjectEntryAll}, t.EntryMaxAge)
	story := base(StreamStory, "full story snapshots", []string{SubjectStoryAll}, t.StoryMaxAge)
	story.MaxMsgsPerSubject = t.StoryHistory
	dlq := base(StreamDLQ, "dead letters and max-deliveries advisories", []string{SubjectDLQAll, MaxDeliveriesAdvisories}, t.DLQMaxAge)
	return []jetstream.StreamConfig{raw, entry, story, dlq}
}

// Buckets returns the KV bucket configurations of the topology.
func (t Topology) Buckets() []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{
		{
			Bucket:         BucketFingerprint,
			Description:    "content fingerprints, first writer wins",
			History:        1,
			Storage:        t.Storage,
			Replicas:       t.Replicas,
			LimitMarkerTTL: t.FingerprintMarkerTTL,
		},
		{
			Bucket:      BucketSource,
			Description: "per-source collector state",
			History:     1,
			Storage:     t.Storage,
			Replicas:    t.Replicas,
		},
	}
}

// EnsureTopology creates the streams and buckets, or updates them to the
// given settings. It is idempotent; every stage calls it at start-up. A
// stream or bucket whose settings already match is only read (stream info),
// so a stage whose NATS user may not manage streams (deploy/nats/accounts.conf)
// starts once the topology exists. A stream that does not answer for the
// moment (a cluster electing its leader) is asked again until ctx ends;
// only one the server says does not exist is created. A setting the server
// cannot change in place (storage type, for one) fails with an error that
// names the stream and says so.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, t Topology) error {
	for _, sc := range t.Streams() {
		if err := ensureStream(ctx, js, sc); err != nil {
			return err
		}
	}
	for _, kc := range t.Buckets() {
		s, err := readStream(ctx, js, "KV_"+kc.Bucket)
		if err == nil && bucketCurrent(s.CachedInfo().Config, kc) {
			continue
		}
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("bus: ensure KV bucket %s: %w%s", kc.Bucket, err, manageHint)
		}
	}
	return nil
}

// manageHint ends an error of a create or update that a least-privileged
// user is refused (the server drops the request: it times out).
const manageHint = " (if this stage's NATS user may not manage streams, create or update the topology first with `newswire topology` as the admin user)"

// readStream reads a stream's info. A stream that exists but cannot answer
// for a moment — its replicas electing a leader after a cluster node was
// lost — is asked again until ctx ends: taken for a missing stream, it
// would make a stage whose user may not manage streams try to create it,
// be refused, and fail with an error that blames its permissions. Each
// request has its own short timeout: one sent while no leader could answer
// it gets no reply at all, and would otherwise wait out the whole of ctx.
func readStream(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		s, err := js.Stream(rctx, name)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrStreamNotFound) ||
			errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: read stream %s: %w", name, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// readTimeout bounds one stream info request of EnsureTopology (a
// variable for the tests).
var readTimeout = 5 * time.Second

func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	existing, err := readStream(ctx, js, sc.Name)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	if err == nil {
		have := existing.CachedInfo().Config
		if have.Storage != sc.Storage {
			return fmt.Errorf("bus: stream %s exists with %s storage and the configuration asks for %s; the server cannot change storage in place: back up and delete the stream, or set storage back", sc.Name, have.Storage, sc.Storage)
		}
		if streamCurrent(have, sc) {
			return nil
		}
	}
	if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("bus: ensure stream %s: %w%s", sc.Name, err, manageHint)
	}
	return nil
}

// streamCurrent reports whether a stream's settings are those the topology
// asks for. The server writes -1 for a limit left at zero.
func streamCurrent(have, want jetstream.StreamConfig) bool {
	limit := func(a, b int64) bool { return a == b || (a <= 0 && b <= 0) }
	return slices.Equal(have.Subjects, want.Subjects) &&
		have.Description == want.Description &&
		have.Retention == want.Retention &&
		have.Storage == want.Storage &&
		have.Replicas == max(want.Replicas, 1) &&
		have.MaxAge == want.MaxAge &&
		have.Duplicates == want.Duplicates &&
		have.Discard == want.Discard &&
		limit(int64(have.MaxMsgSize), int64(want.MaxMsgSize)) &&
		limit(have.MaxMsgsPerSubject, want.MaxMsgsPerSubject)
}

// bucketCurrent reports whether a KV bucket's stream has the settings the
// topology asks for.
func bucketCurrent(have jetstream.StreamConfig, want jetstream.KeyValueConfig) bool {
	return have.Description == want.Description &&
		have.MaxMsgsPerSubject == max(int64(want.History), 1) &&
		have.Storage == want.Storage &&
		have.Replicas == max(want.Replicas, 1) &&
		have.SubjectDeleteMarkerTTL == want.LimitMarkerTTL
}
