package telegram

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gotd/td/bin"
	gotd "github.com/gotd/td/telegram"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/newswire/newswire/ingest"
)

// ErrFloodWaitTooLong is returned when Telegram asks for a longer wait
// than the collector is allowed to sit out inside one call; the poll fails
// and is retried on the source's next schedule instead.
var ErrFloodWaitTooLong = errors.New("telegram: FLOOD_WAIT longer than max_flood_wait")

// FloodControl is a gotd middleware that spaces every call with a
// client-side rate limit and sits out FLOOD_WAIT answers, then repeats the
// call. Telegram punishes clients that ignore FLOOD_WAIT with longer waits,
// so the wait is honoured in full (plus a second of margin) before retrying.
type FloodControl struct {
	limiter *rate.Limiter
	maxWait time.Duration
	retries int
	log     *zap.Logger
	sleep   func(ctx context.Context, d time.Duration) error

	waits  atomic.Int64
	waited atomic.Int64 // nanoseconds
}

// NewFloodControl limits calls to perSecond (burst 1; 0 means 1/s) and
// waits out FLOOD_WAIT up to maxWait (0 means 5 minutes) at most retries
// times per call.
func NewFloodControl(perSecond float64, maxWait time.Duration, log *zap.Logger) *FloodControl {
	if perSecond <= 0 {
		perSecond = 1
	}
	if maxWait <= 0 {
		maxWait = 5 * time.Minute
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &FloodControl{
		limiter: rate.NewLimiter(rate.Limit(perSecond), 1),
		maxWait: maxWait,
		retries: 3,
		log:     log,
		sleep:   ingest.Sleep,
	}
}

// FloodWaits reports how many FLOOD_WAIT answers were waited out and for
// how long in total.
func (f *FloodControl) FloodWaits() (int64, time.Duration) {
	return f.waits.Load(), time.Duration(f.waited.Load())
}

// Handle implements telegram.Middleware.
func (f *FloodControl) Handle(next tg.Invoker) gotd.InvokeFunc {
	return func(ctx context.Context, input bin.Encoder, output bin.Decoder) error {
		for attempt := 0; ; attempt++ {
			if err := f.limiter.Wait(ctx); err != nil {
				return fmt.Errorf("telegram: rate limit: %w", err)
			}
			err := next.Invoke(ctx, input, output)
			d, ok := tgerr.AsFloodWait(err)
			if !ok {
				return err
			}
			if d > f.maxWait || attempt >= f.retries {
				return fmt.Errorf("%w: asked to wait %s (%T): %w", ErrFloodWaitTooLong, d, input, err)
			}
			wait := d + time.Second
			f.log.Warn("FLOOD_WAIT: waiting before retrying", zap.String("call", fmt.Sprintf("%T", input)), zap.Duration("wait", wait), zap.Int("attempt", attempt+1))
			f.waits.Add(1)
			f.waited.Add(int64(wait))
			if err := f.sleep(ctx, wait); err != nil {
				return err
			}
		}
	}
}
