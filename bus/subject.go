// Package bus starts the embedded nats-server or connects to an external
// NATS cluster, and creates the streams and KV buckets every stage shares.
package bus

import (
	"strings"
)

// Stream, bucket and subject names of the design's NATS topology.
const (
	StreamRaw   = "WIRE_RAW"
	StreamEntry = "WIRE_ENTRY"
	StreamStory = "WIRE_STORY"
	StreamDLQ   = "WIRE_DLQ"

	BucketFingerprint = "wire_fp"
	BucketSource      = "wire_source"

	SubjectRawAll   = "wire.raw.>"
	SubjectEntryAll = "wire.entry.>"
	SubjectStoryAll = "wire.story.>"
	SubjectDLQAll   = "wire.dlq.>"

	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
)

// Token turns a source id, kind or story id into a subject-safe token:
// lower case, [a-z0-9_-], never empty.
func Token(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// RawSubject is the subject a collector publishes a raw item on.
func RawSubject(kind, source string) string {
	return "wire.raw." + Token(kind) + "." + Token(source)
}

// EntrySubject is the subject the normalizer publishes an entry on.
func EntrySubject(kind, source string) string {
	return "wire.entry." + Token(kind) + "." + Token(source)
}

// StorySubject is the subject of a story's snapshots.
func StorySubject(id string) string { return "wire.story." + Token(id) }

// DLQSubject is where a stage records input that can never succeed.
func DLQSubject(stage string) string { return "wire.dlq." + Token(stage) }

// RawMsgID is the Nats-Msg-Id of a raw item.
func RawMsgID(kind, source, nativeID string) string {
	return Token(kind) + ":" + Token(source) + ":" + nativeID
}

// EntryMsgID is the Nats-Msg-Id of the entry made from a raw message.
func EntryMsgID(rawMsgID string) string { return "entry:" + rawMsgID }
