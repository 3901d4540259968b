// Package replay publishes a file in the replay format (JSON Lines, plain or
// gzipped) as raw items, as fast as possible or paced by the items' own
// published times.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest"
	"github.com/newswire/newswire/wire"
)

// Item is one line of the replay format.
type Item struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	URL         string `json:"url"`
	PublishedAt string `json:"published_at"`
	Title       string `json:"title"`
	Text        string `json:"text"`
	Lang        string `json:"lang"`
	Label       string `json:"label"`
}

// ErrBadLine is wrapped by errors about a line that is not a valid item.
var ErrBadLine = errors.New("replay: bad line")

// MaxLine is the longest line a Reader takes; a longer one is skipped as
// a bad line, and reading goes on with the next.
const MaxLine = 64 << 20

// Reader reads replay items from a plain or gzipped stream.
type Reader struct {
	br   *bufio.Reader
	buf  []byte
	line int
}

// NewReader detects gzip by its magic bytes.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("replay: read: %w", err)
	}
	var src io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("replay: gzip: %w", err)
		}
		src = gz
	}
	return &Reader{br: bufio.NewReaderSize(src, 1<<20)}, nil
}

// readLine returns the next line without its newline, or tooLong when it
// was over MaxLine (and has been skipped).
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > MaxLine {
			tooLong = true
		} else {
			r.buf = append(r.buf, chunk...)
		}
		switch {
		case err == nil:
			return r.buf, tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(r.buf) > 0 || tooLong):
			return r.buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// Next returns the next item, io.EOF at the end, or an error wrapping
// ErrBadLine that names the line.
func (r *Reader) Next() (Item, error) {
	for {
		raw, tooLong, err := r.readLine()
		if errors.Is(err, io.EOF) {
			return Item{}, io.EOF
		}
		if err != nil {
			return Item{}, fmt.Errorf("replay: line %d: %w", r.line+1, err)
		}
		r.line++
		if tooLong {
			return Item{}, fmt.Errorf("%w %d: longer than %d bytes", ErrBadLine, r.line, MaxLine)
		}
		b := bytes.TrimSpace(raw)
		if len(b) == 0 {
			continue
		}
		var it Item
		if err := json.Unmarshal(b, &it); err != nil {
			return Item{}, fmt.Errorf("%w %d: not a JSON object: %w", ErrBadLine, r.line, err)
		}
		if it.Source == "" {
			// Some real rows name no publisher; the link's host is the next best name.
			if u, err := url.Parse(it.URL); err == nil && u.Host != "" {
				it.Source = strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
			}
		}
		if it.ID == "" || it.Source == "" {
			return Item{}, fmt.Errorf("%w %d: needs \"id\" and a \"source\" (or a \"url\" to name it by)", ErrBadLine, r.line)
		}
		if it.Title == "" && it.Text == "" {
			return Item{}, fmt.Errorf("%w %d: needs \"title\" or \"text\"", ErrBadLine, r.line)
		}
		if it.Kind == "" {
			it.Kind = "rss"
		}
		return it, nil
	}
}

// Line is the number of the last line read.
func (r *Reader) Line() int { return r.line }

// ReadFile reads every item of a file.
func ReadFile(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return nil, err
	}
	var items []Item
	for {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
}

// Raw turns a replay item into the raw item a collector would have published.
func (it Item) Raw(observed time.Time) wire.RawItem {
	format := wire.FormatText
	if it.Kind == "telegram" {
		format = wire.FormatMarkdown
	}
	return wire.RawItem{
		Kind:       it.Kind,
		Source:     it.Source,
		NativeID:   it.ID,
		SourceName: it.Source,
		URL:        it.URL,
		Title:      it.Title,
		Body:       it.Text,
		BodyFormat: format,
		Published:  it.PublishedAt,
		ObservedAt: observed,
		Lang:       it.Lang,
	}
}

// Config configures a replay collector.
//
//   - id: demo
//     kind: replay
//     path: testdata/replay/uci-news-2014-03.jsonl
//     speed: 600   # 0 = as fast as possible; 600 = ten hours of items a minute
type Config struct {
	// ID is the source id, the key of the stored position in wire_source.
	ID   string
	Path string
	// Speed is the pacing factor over the items' published times; 0 means no pacing.
	Speed float64
	// Limit stops after this many items; 0 means all.
	Limit int
	// PublishAttempts bounds the tries of one item's publish (a PubAck not
	// seen in time, a server restarting); 0 means DefaultPublishAttempts.
	// Every try carries the same Nats-Msg-Id, so a try whose PubAck was
	// lost stores nothing twice; the position never passes an item that
	// has no PubAck.
	PublishAttempts int
}

// DefaultPublishAttempts is how many times an item's publish is tried
// before the replay stops with the error: with the backoff between tries
// (0.5 s doubling to 8 s) and the 5 s a PubAck is awaited, about 1.5
// minutes of a bus that does not answer.
const DefaultPublishAttempts = 8

// Collector publishes a replay file.
type Collector struct {
	cfg                             Config
	pub                             ingest.Publisher
	kv                              StateStore
	log                             *zap.Logger
	now                             func() time.Time
	sleep                           func(context.Context, time.Duration) error
	published, duplicates, badLines atomic.Int64
	resumed, stateErrors            atomic.Int64
	publishRetries                  atomic.Int64
}

// Stats counts what a replay did.
type Stats struct {
	Published  int
	Duplicates int
	BadLines   int
	// Resumed is the number of items (and bad lines) an earlier run
	// handed to the bus, skipped by this one.
	Resumed int
	// StateErrors counts stored positions that could not be read or saved.
	StateErrors int
	// PublishRetries counts publishes tried again after a failed try.
	PublishRetries int
}

// New returns a replay collector. With kv it keeps its position in the
// file under StateKey(cfg.ID) and resumes there; without (the one-shot
// `newswire replay FILE`) it reads the file from its start every time.
func New(cfg Config, pub ingest.Publisher, kv StateStore, log *zap.Logger) (*Collector, error) {
	if cfg.Path == "" {
		return nil, errors.New("replay: path is required")
	}
	if kv != nil && cfg.ID == "" {
		return nil, errors.New("replay: a source id is required to store the position")
	}
	if cfg.Speed < 0 {
		return nil, errors.New("replay: speed must not be negative")
	}
	if cfg.PublishAttempts < 0 {
		return nil, errors.New("replay: publish attempts must not be negative")
	}
	if cfg.PublishAttempts == 0 {
		cfg.PublishAttempts = DefaultPublishAttempts
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Collector{cfg: cfg, pub: pub, kv: kv, log: log, now: time.Now, sleep: ingest.Sleep}, nil
}

// publish hands one item to the bus, trying again with backoff when no
// PubAck comes (a loaded or restarting server). The item is the same on
// every try, so its Nats-Msg-Id is too: a try that was stored but whose
// PubAck was lost comes back as a duplicate, not as a second message. An
// invalid item is not tried again.
func (c *Collector) publish(ctx context.Context, item wire.RawItem, line int) (ingest.Ack, error) {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ack, err := c.pub.Publish(ctx, item)
		if err == nil || ctx.Err() != nil || errors.Is(err, ingest.ErrInvalidItem) || attempt >= c.cfg.PublishAttempts {
			return ack, err
		}
		c.publishRetries.Add(1)
		c.log.Warn("replay: publish failed; trying the same item again", zap.String("file", c.cfg.Path), zap.Int("line", line),
			zap.Int("attempt", attempt), zap.Int("attempts", c.cfg.PublishAttempts), zap.Duration("wait", wait), zap.Error(err))
		if err := c.sleep(ctx, wait); err != nil {
			return ack, err
		}
		wait = min(2*wait, 8*time.Second)
	}
}

// Stats returns the counts of the current or last Run.
func (c *Collector) Stats() Stats {
	return Stats{Published: int(c.published.Load()), Duplicates: int(c.duplicates.Load()), BadLines: int(c.badLines.Load()),
		Resumed: int(c.resumed.Load()), StateErrors: int(c.stateErrors.Load()), PublishRetries: int(c.publishRetries.Load())}
}

// Run publishes the file and returns when it is done or ctx ends. A line
// that is not a valid item is logged, counted and skipped; it does not stop
// the replay. With a state store it starts after the last line an earlier
// run stored, and stores its own position (with its health) after the
// first item, every saveEvery lines or saveInterval, at the end and when
// ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	f, err := os.Open(c.cfg.Path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	st, err := c.load(ctx, f)
	if err != nil {
		return err
	}
	r, err := NewReader(f)
	if err != nil {
		return err
	}
	c.published.Store(0)
	c.duplicates.Store(0)
	c.badLines.Store(0)
	c.resumed.Store(0)
	skip := st.Line
	saved := st.Line
	var savedAt time.Time
	done := false // read to the end: saved even when the position did not move
	save := func() {
		if c.kv == nil || st.Line == saved && !done {
			return
		}
		// The position is saved even when ctx has ended: that is when a
		// restart will need it.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := c.save(sctx, &st); err != nil {
			c.stateErrors.Add(1)
			st.Errors++
			st.LastError = err.Error()
			c.log.Warn("replay: position not saved; a restart re-reads the lines since the last save", zap.Error(err))
			return
		}
		saved, savedAt = st.Line, c.now()
	}
	defer save()
	var firstPub, start time.Time
	for c.cfg.Limit == 0 || int(c.published.Load()+c.duplicates.Load()) < c.cfg.Limit {
		it, err := r.Next()
		if errors.Is(err, io.EOF) {
			st.Finished, done = c.now().UTC(), true
			break
		}
		if err != nil && !errors.Is(err, ErrBadLine) {
			return err
		}
		if r.Line() <= skip {
			c.resumed.Add(1)
			continue // handed to the bus by an earlier run
		}
		if errors.Is(err, ErrBadLine) {
			c.badLines.Add(1)
			c.log.Warn("replay: skipping bad line", zap.String("file", c.cfg.Path), zap.Error(err))
			st.Line = r.Line()
			continue
		}
		if c.cfg.Speed > 0 {
			if pt, perr := time.Parse(time.RFC3339, strings.TrimSpace(it.PublishedAt)); perr == nil {
				if firstPub.IsZero() {
					firstPub, start = pt, c.now()
				}
				due := start.Add(time.Duration(float64(pt.Sub(firstPub)) / c.cfg.Speed))
				if wait := due.Sub(c.now()); wait > 0 {
					if err := c.sleep(ctx, wait); err != nil {
						return nil
					}
				}
			}
		}
		ack, err := c.publish(ctx, it.Raw(c.now().UTC()), r.Line())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("replay: line %d: %w", r.Line(), err)
		}
		if ack.Duplicate {
			c.duplicates.Add(1)
		} else {
			c.published.Add(1)
			st.Published++
		}
		st.Line = r.Line()
		st.LastSuccess = c.now().UTC()
		if st.Line-saved >= saveEvery || c.now().Sub(savedAt) >= saveInterval {
			save()
		}
	}
	if c.resumed.Load() > 0 {
		c.log.Info("replay resumed after the stored position", zap.String("file", c.cfg.Path), zap.Int64("lines_skipped", c.resumed.Load()))
	}
	c.log.Info("replay finished", zap.String("file", c.cfg.Path), zap.Int64("published", c.published.Load()),
		zap.Int64("duplicates", c.duplicates.Load()), zap.Int64("bad_lines", c.badLines.Load()))
	return nil
}
