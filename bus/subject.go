// Package bus starts the embedded nats-server or connects to an external
// NATS cluster, and creates the streams and KV buckets every stage shares.
package bus

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
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
// lower case, [a-z0-9_-], never empty. Cyrillic is transliterated; any
// other character outside that set becomes '_', and when that loses
// information (a letter of another script) a short hash of the original is
// appended so that two different names never share a token.
func Token(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	lossy := false
	under := false
	put := func(x string) {
		for i := 0; i < len(x); i++ {
			c := x[i]
			if c == '_' {
				if under || b.Len() == 0 {
					continue
				}
				under = true
			} else {
				under = false
			}
			b.WriteByte(c)
		}
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			put(string(r))
		case r == '_':
			put("_")
		case r >= 0x400 && r <= 0x4ff:
			if t, ok := cyrillic[r]; ok {
				put(t)
			} else {
				put("_")
				lossy = true
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			put("_")
			lossy = true
		default:
			put("_")
		}
	}
	out := strings.TrimRight(b.String(), "_")
	if lossy {
		h := fnv.New32a()
		h.Write([]byte(s))
		out += fmt.Sprintf("-%08x", h.Sum32())
		out = strings.TrimLeft(out, "-")
	}
	if out == "" {
		return "_"
	}
	return out
}

var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh", 'з': "z",
	'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o", 'п': "p", 'р': "r",
	'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh",
	'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu", 'я': "ya",
	'і': "i", 'ї': "yi", 'є': "ye", 'ґ': "g", 'ў': "u",
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

// WithdrawalMsgID is the Nats-Msg-Id of a raw item that reports the
// deletion of the post with raw message id rawMsgID: distinct from the
// post's own, so that the bus's duplicate window does not swallow it.
func WithdrawalMsgID(rawMsgID string) string { return rawMsgID + ":withdrawn" }

// EntryMsgID is the Nats-Msg-Id of the entry made from a raw message.
func EntryMsgID(rawMsgID string) string { return "entry:" + rawMsgID }
