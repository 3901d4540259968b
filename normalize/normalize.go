// Package normalize turns raw items into wire entries: UTC times checked for
// sanity, canonical URLs, plain text, headlines, content fingerprints, and
// links to the earlier entries an entry duplicates or reposts.
package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/provenance"
	"github.com/newswire/newswire/wire"
)

// Config configures the normalizer.
//
//	normalize:
//	  headline_runes: 110             # ticker headline length for posts without a title
//	  future_skew: 10m                # a published time further ahead than this is replaced
//	  fingerprint_ttl: 168h           # how long wire_fp remembers content
//	  near_duplicate_similarity: 0.5  # estimated Jaccard of word 1+2-grams for duplicate_of
//	  near_duplicate_window: 48h      # how far back the near-duplicate index reaches
//	  near_duplicate_max_entries: 200000
//	  languages: [en, ru, uk, ...]    # candidates for language detection; [] = script rules only
//	  max_in_flight: 512              # raw items between receipt and ack per replica
type Config struct {
	HeadlineRunes  int
	FutureSkew     time.Duration
	FingerprintTTL time.Duration
	// NearDupSimilarity is the estimated Jaccard similarity at which an
	// entry becomes a duplicate of an earlier one.
	NearDupSimilarity float64
	NearDupWindow     time.Duration
	// NearDupMaxEntries bounds the near-duplicate index.
	NearDupMaxEntries int
	// Languages are the ISO 639-1 codes language detection chooses from.
	Languages []string
	// Detector names the language of entries that declare none; nil uses
	// ScriptDetector. NewWorker builds an NGramDetector from Languages.
	Detector LanguageDetector
	// MaxInFlight bounds the raw items a worker holds between receipt and
	// ack, and so its outstanding asynchronous publishes.
	MaxInFlight int
	// RedeliveryBackoff paces the redeliveries of a raw item whose ack
	// never came (a crashed replica): its first step is the consumer's ack
	// wait, the last repeats until the item's last delivery. Explicit naks
	// choose their own delay.
	RedeliveryBackoff []time.Duration
	// Sources gives display codes and names by source id, from configuration.
	Sources map[string]provenance.Source
	// Now is the worker's clock (nil: time.Now); it places the start of
	// the near-duplicate window when the index is rebuilt.
	Now func() time.Time
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		HeadlineRunes:     110,
		FutureSkew:        10 * time.Minute,
		FingerprintTTL:    7 * 24 * time.Hour,
		NearDupSimilarity: 0.5,
		NearDupWindow:     48 * time.Hour,
		NearDupMaxEntries: 200_000,
		Languages:         DefaultLanguages(),
		MaxInFlight:       512,
		RedeliveryBackoff: DefaultRedeliveryBackoff(),
	}
}

// DefaultRedeliveryBackoff is the normalizer's default redelivery pacing.
func DefaultRedeliveryBackoff() []time.Duration {
	return []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}
}

// ConfigError is one setting Validate refuses; Key is its name in the
// configuration file's normalize section.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string { return "normalize: " + e.Key + " " + e.Msg }

// Validate reports a configuration that cannot work: every refused
// setting, as a *ConfigError, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, msg string) { errs = append(errs, &ConfigError{Key: key, Msg: msg}) }
	if c.HeadlineRunes < 20 {
		bad("headline_runes", "must be at least 20")
	}
	if c.FutureSkew < 0 {
		bad("future_skew", "must not be negative")
	}
	if c.FingerprintTTL < time.Second {
		bad("fingerprint_ttl", "must be at least 1s")
	}
	if c.NearDupSimilarity <= 0 || c.NearDupSimilarity > 1 {
		bad("near_duplicate_similarity", "must be within (0, 1]")
	}
	if c.NearDupWindow <= 0 {
		bad("near_duplicate_window", "must be positive")
	}
	if c.NearDupMaxEntries < 1 {
		bad("near_duplicate_max_entries", "must be at least 1")
	}
	if len(c.Languages) == 1 {
		bad("languages", "must name none or at least two")
	}
	if c.Detector == nil {
		supported := SupportedLanguages()
		for _, l := range c.Languages {
			if !slices.Contains(supported, strings.ToLower(strings.TrimSpace(l))) {
				bad("languages", fmt.Sprintf("names %q, which language detection does not know (supported: %s)", l, strings.Join(supported, ", ")))
			}
		}
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 4000 {
		// 4000 is the client's default limit of outstanding async publishes
		bad("max_in_flight", "must be within 1..4000")
	}
	if msg := bus.CheckBackoff(c.RedeliveryBackoff, handleTimeout, maxDeliver); msg != "" {
		bad("redelivery_backoff", msg)
	}
	return errors.Join(errs...)
}

// Errors for input that can never become an entry.
var (
	ErrNoContent = errors.New("normalize: item has neither title nor text")
	ErrBadItem   = errors.New("normalize: item lacks kind, source or native id")
	ErrSchema    = errors.New("normalize: unknown raw schema")
)

// MaxTextBytes caps an entry's plain text; longer text is cut at a rune
// boundary and the entry flagged FlagTextTruncated.
const MaxTextBytes = 256 << 10

// FlagTextTruncated marks an entry whose text was cut to MaxTextBytes.
const FlagTextTruncated = "text_truncated"

// FlagURLRefused marks an entry whose source gave a link that is not an
// http(s) URL (javascript:, data:, a bare path): the entry carries no URL,
// so no reader or downstream page follows it; the raw item keeps it.
const FlagURLRefused = "url_refused"

// Time flags an entry may carry.
const (
	FlagFutureTime  = "published_in_future"
	FlagAncientTime = "published_before_1995"
	FlagNoTime      = "published_missing"
	FlagBadTime     = "published_unparseable"
	// FlagLangDetected marks a language the normalizer detected rather
	// than one the source declared.
	FlagLangDetected = "lang_detected"
)

var earliestNews = time.Date(1995, 1, 1, 0, 0, 0, 0, time.UTC)

// EntryID is the stable id of the entry made from the raw message with
// this Nats-Msg-Id.
func EntryID(rawMsgID string) string {
	sum := sha256.Sum256([]byte(rawMsgID))
	return "e" + hex.EncodeToString(sum[:10])
}

// Normalize makes an entry from a raw item. It is a pure function of its
// inputs: no clock, no bus. Errors mean the item can never be normalized.
func Normalize(cfg Config, raw wire.RawItem, ref provenance.RawRef) (wire.Entry, error) {
	e, _, err := normalize(cfg, raw, ref)
	return e, err
}

// normalize is Normalize that also returns the entry's MinHash sketch, so
// the worker tokenizes each text once.
func normalize(cfg Config, raw wire.RawItem, ref provenance.RawRef) (wire.Entry, Sketch, error) {
	if raw.Schema != "" && raw.Schema != wire.SchemaRaw {
		return wire.Entry{}, Sketch{}, fmt.Errorf("%w %q", ErrSchema, raw.Schema)
	}
	if raw.Kind == "" || raw.Source == "" || raw.NativeID == "" {
		return wire.Entry{}, Sketch{}, ErrBadItem
	}
	if ref.MsgID == "" {
		ref.MsgID = bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID)
		if raw.Deleted {
			ref.MsgID = bus.WithdrawalMsgID(ref.MsgID)
		}
	}
	// A withdrawal carries the id of the entry it withdraws: the one made
	// from the post's own raw message.
	entryMsgID := ref.MsgID
	if raw.Deleted {
		entryMsgID = bus.RawMsgID(raw.Kind, raw.Source, raw.NativeID)
	}
	var text string
	switch raw.BodyFormat {
	case wire.FormatHTML:
		text = HTMLToText(raw.Body)
	case wire.FormatMarkdown:
		text = MarkdownToText(raw.Body)
	default:
		if looksLikeHTML(raw.Body) {
			text = HTMLToText(raw.Body)
		} else {
			text = CleanText(raw.Body)
		}
	}
	title := raw.Title
	if raw.TitleFormat != wire.FormatText && looksLikeHTML(title) {
		title = HTMLToText(title)
	}
	title = strings.Join(strings.Fields(CleanText(title)), " ")
	if title == "" && text == "" && !raw.Deleted {
		return wire.Entry{}, Sketch{}, ErrNoContent
	}
	headline := title
	if headline == "" {
		headline = Headline(text, cfg.HeadlineRunes)
	}
	if headline == "" {
		headline = "[withdrawn]" // a deletion notice that carries no text of the post
	} else {
		headline = truncateWords(headline, max(cfg.HeadlineRunes*2, 200))
	}
	if text == "" {
		text = title
	}
	observed := raw.ObservedAt.UTC()
	published, flags := checkTime(raw.Published, observed, cfg.FutureSkew)
	if len(flags) > 0 && published.Equal(observed) {
		published = positionTime(observed, raw.Position)
	}
	canon := CanonicalURL(raw.URL)
	urlRefused := canon != "" && !webURL(canon)
	if urlRefused {
		canon = ""
	}
	e := wire.Entry{
		Schema:      wire.SchemaEntry,
		ID:          EntryID(entryMsgID),
		Source:      SourceOf(cfg, raw),
		URL:         canon,
		Headline:    headline,
		Text:        text,
		Lang:        LangTag(raw.Lang),
		PublishedAt: published,
		ObservedAt:  observed,
		LagSeconds:  observed.Sub(published).Seconds(),
		Flags:       flags,
		Withdrawn:   raw.Deleted,
		Raw:         ref,
	}
	// The published link keeps the source's form, but not a literal
	// "&amp;": that is the publisher escaping it twice, and kept it would
	// become a broken link in every page that renders it (as CanonicalURL).
	if published := strings.ReplaceAll(strings.TrimSpace(raw.URL), "&amp;", "&"); urlRefused {
		e.Flags = append(e.Flags, FlagURLRefused)
	} else if canon != published {
		e.OriginalURL = published
	}
	if len(e.Text) > MaxTextBytes {
		// A wire entry is not an archive: a 50 MB body would not fit the
		// bus, and a story only quotes its lede.
		cut := MaxTextBytes
		for cut > 0 && !utf8.RuneStart(e.Text[cut]) {
			cut--
		}
		e.Text = e.Text[:cut]
		e.Flags = append(e.Flags, FlagTextTruncated)
	}
	e.Fingerprint.Exact = exactFingerprint(canon, title, text)
	var buf [2 * maxFeatureTokens]uint64
	feats := textFeatures(&buf, featureTexts(&e)...)
	e.Fingerprint.SimHash = hex16(SimHashFeatures(feats))
	if e.Lang == "" {
		det := cfg.Detector
		if det == nil {
			det = ScriptDetector{}
		}
		if e.Lang = det.Detect(title + "\n" + text); e.Lang != "" {
			e.Flags = append(e.Flags, FlagLangDetected)
		}
	}
	if f := raw.ForwardOf; f != nil && f.NativeID != "" {
		kind := f.Kind
		if kind == "" {
			kind = raw.Kind
		}
		e.RepostOf = EntryID(bus.RawMsgID(kind, f.Source, f.NativeID))
	}
	if q := raw.QuoteOf; q != nil && q.NativeID != "" {
		kind := q.Kind
		if kind == "" {
			kind = raw.Kind
		}
		e.QuoteOf = EntryID(bus.RawMsgID(kind, q.Source, q.NativeID))
	}
	return e, MinHash(feats), nil
}

// SketchOf is the MinHash sketch of an entry, computed from its fields
// alone, so that a replica rebuilding its index from WIRE_ENTRY gets the
// sketch the publishing replica had.
func SketchOf(e *wire.Entry) Sketch {
	var buf [2 * maxFeatureTokens]uint64
	return MinHash(textFeatures(&buf, featureTexts(e)...))
}

// hex16 is fmt.Sprintf("%016x", v) without the formatter's boxing.
func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b[:])
}

// featureTexts are the texts an entry's features come from, in order.
func featureTexts(e *wire.Entry) []string {
	if e.Headline == "" || e.Body() != e.Text {
		return []string{e.Text} // a headline taken from the text adds nothing
	}
	return []string{e.Headline, e.Text}
}

// ExactFingerprint is the hex SHA-256 of the canonical URL and the
// normalized text: the same post seen by two collectors has the same one.
// The text is hashed as strings.ToLower(strings.Join(strings.Fields(text),
// " ")) (fingerprints in wire_fp must keep their value across versions),
// but folded and lowered through a small buffer rather than three copies.
func ExactFingerprint(canonURL, text string) string {
	return exactFingerprint(canonURL, text)
}

// exactFingerprint is ExactFingerprint of the texts joined by line breaks,
// without joining them. The folded text is built in one buffer, on the
// stack for the usual post, and hashed at once.
func exactFingerprint(canonURL string, texts ...string) string {
	var stack [4096]byte
	b := append(append(stack[:0], canonURL...), 0)
	started := false // a field was written
	for _, text := range texts {
		b = appendFoldedLower(b, text, &started)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// appendFoldedLower appends the fields of text, lower-cased, each after a
// space unless it is the first field (started tells, and is updated).
func appendFoldedLower(b []byte, text string, started *bool) []byte {
	inField := false
	sep := func(b []byte) []byte {
		if *started {
			b = append(b, ' ')
		}
		inField, *started = true, true
		return b
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if asciiSpace(c) || c == '\v' {
				inField = false
				continue
			}
			if !inField {
				b = sep(b)
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			continue
		}
		if i+1 < len(text) && (c == 0xD0 || c == 0xD1 && text[i+1] < 0xA0) && text[i+1]&0xC0 == 0x80 {
			// U+0400–U+045F, the Russian alphabet and its neighbours,
			// lowered on the bytes: never a space, and the case tables
			// cost a binary search per rune
			if !inField {
				b = sep(b)
			}
			c2 := text[i+1]
			switch {
			case c == 0xD1 || c2 >= 0xB0: // а–п, р–џ: lower case already
				b = append(b, c, c2)
			case c2 < 0x90: // Ѐ–Џ → ѐ–џ
				b = append(b, 0xD1, c2+0x10)
			case c2 < 0xA0: // А–П → а–п
				b = append(b, 0xD0, c2+0x20)
			default: // Р–Я → р–я
				b = append(b, 0xD1, c2-0x20)
			}
			i += 2
			continue
		}
		r, size := decodeRune(text, i)
		i += size
		if isSpace(r) {
			inField = false
			continue
		}
		if !inField {
			b = sep(b)
		}
		if r = lowerRune(r); r < 0x800 && r >= utf8.RuneSelf {
			b = append(b, byte(0xC0|r>>6), byte(0x80|r&0x3F))
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// lowerRune is unicode.ToLower with the Cyrillic alphabet answered
// directly, since the case tables cost a binary search per rune.
func lowerRune(r rune) rune {
	switch {
	case 0x0410 <= r && r <= 0x042F: // А–Я
		return r + 0x20
	case 0x0430 <= r && r <= 0x045F: // а–я, ѐ–џ
		return r
	}
	return unicode.ToLower(r)
}

// PositionStep is how far apart the normalizer places items of one
// document whose published time it could not use: the item at position p
// is taken as published p steps before it was observed, so the document's
// order (newest first) survives. MaxPosition bounds the step count.
const (
	PositionStep = time.Second
	MaxPosition  = 10_000
)

// positionTime is the published time given to an item whose own could not
// be used: its observed time less one PositionStep per place in its document.
func positionTime(observed time.Time, position int) time.Time {
	position = min(max(position, 0), MaxPosition)
	return observed.Add(-time.Duration(position) * PositionStep)
}

func checkTime(s string, observed time.Time, skew time.Duration) (time.Time, []string) {
	if strings.TrimSpace(s) == "" {
		return observed, []string{FlagNoTime}
	}
	t, err := ParseTime(s)
	switch {
	case err != nil:
		return observed, []string{FlagBadTime}
	case t.Before(earliestNews):
		return observed, []string{FlagAncientTime}
	case !observed.IsZero() && t.After(observed.Add(skew)):
		return observed, []string{FlagFutureTime}
	}
	return t, nil
}

// SourceOf builds an entry's source from configuration, falling back on
// what the collector said and, for the display code, on the name.
func SourceOf(cfg Config, raw wire.RawItem) provenance.Source {
	src := provenance.Source{ID: bus.Token(raw.Source), Kind: raw.Kind, Code: raw.SourceCode, Name: raw.SourceName}
	if c, ok := cfg.Sources[raw.Source]; ok {
		if c.Code != "" {
			src.Code = c.Code
		}
		if c.Name != "" {
			src.Name = c.Name
		}
	}
	if src.Name == "" {
		src.Name = raw.Source
	}
	if src.Code == "" {
		src.Code = DeriveCode(src.Name)
		if !isASCII(src.Code) {
			// a script without a romanisation here: the source id is ASCII
			src.Code = DeriveCode(src.ID)
		}
	}
	return src
}

// DeriveCode makes a ticker display code from a source name: the name's
// letters in upper case when it is one or two words ("AllAfrica" →
// ALLAFRICA), its initials when longer ("Los Angeles Times" → LAT), at most
// 12 characters.
func DeriveCode(name string) string {
	if isASCII(name) {
		return deriveCodeASCII(name)
	}
	return deriveCode(name)
}

// deriveCode is DeriveCode for any script.
func deriveCode(name string) string {
	name = transliterate(name)
	words := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var b strings.Builder
	if len(words) >= 3 {
		for _, w := range words {
			r := []rune(w)
			b.WriteRune(unicode.ToUpper(r[0]))
		}
	} else {
		for _, w := range words {
			b.WriteString(strings.ToUpper(w))
		}
	}
	code := []rune(b.String())
	if len(code) > 12 {
		code = code[:12]
	}
	if len(code) == 0 {
		return "SRC"
	}
	return string(code)
}

// deriveCodeASCII is deriveCode for an ASCII name, the usual source id or
// name, in one pass over a small buffer: it runs for every item of a
// source without a configured code.
func deriveCodeASCII(name string) string {
	const maxCode = 12
	var all, initials [maxCode]byte
	nAll, nInitials, words := 0, 0, 0
	inWord := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			inWord = false
			continue
		}
		if !inWord {
			inWord = true
			words++
			if nInitials < maxCode {
				initials[nInitials] = c
				nInitials++
			}
		}
		if nAll < maxCode {
			all[nAll] = c
			nAll++
		}
	}
	switch {
	case words >= 3:
		return string(initials[:nInitials])
	case nAll == 0:
		return "SRC"
	}
	return string(all[:nAll])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// cyrillicLatin romanises Cyrillic for display codes (a simplified
// BGN/PCGN), so that a ticker of Latin codes stays readable.
var cyrillicLatin = map[rune]string{
	'а': "A", 'б': "B", 'в': "V", 'г': "G", 'д': "D", 'е': "E", 'ё': "E", 'ж': "ZH", 'з': "Z",
	'и': "I", 'й': "Y", 'к': "K", 'л': "L", 'м': "M", 'н': "N", 'о': "O", 'п': "P", 'р': "R",
	'с': "S", 'т': "T", 'у': "U", 'ф': "F", 'х': "KH", 'ц': "TS", 'ч': "CH", 'ш': "SH", 'щ': "SHCH",
	'ъ': "", 'ы': "Y", 'ь': "", 'э': "E", 'ю': "YU", 'я': "YA", 'і': "I", 'ї': "YI", 'є': "YE", 'ґ': "G",
}

func transliterate(s string) string {
	var b strings.Builder
	for _, r := range s {
		if lat, ok := cyrillicLatin[unicode.ToLower(r)]; ok {
			b.WriteString(lat)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func looksLikeHTML(s string) bool {
	i := strings.IndexByte(s, '<')
	if i < 0 || i+1 >= len(s) {
		return strings.Contains(s, "&") && strings.Contains(s, ";") && entityLike(s)
	}
	c := s[i+1]
	return c == '/' || c == '!' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func entityLike(s string) bool {
	for _, e := range []string{"&amp;", "&lt;", "&gt;", "&quot;", "&#", "&nbsp;", "&apos;"} {
		if strings.Contains(s, e) {
			return true
		}
	}
	return false
}
