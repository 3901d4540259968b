package main

import (
	"context"
	"errors"
	"time"

	"github.com/oklog/run"

	"github.com/newswire/newswire/service"
)

// stallAfter is how long a stage's durable consumer may hold messages
// without delivering or acking any before the watchdog stops pinging. It is
// well above the longest ack wait and back-off of the consumers, so a slow
// burst is never taken for a stall.
const stallAfter = 5 * time.Minute

// watch adds a health check of stream (and of consumer on it, if not "")
// to what the systemd watchdog requires before each ping.
func (p *parts) watch(stream, consumer string) *service.Health {
	h := &service.Health{Conn: p.nc, JS: p.js, Stream: stream, Consumer: consumer, StallAfter: stallAfter}
	p.health = append(p.health, h)
	return h
}

// check runs every health check of the process.
func (p *parts) check(ctx context.Context) error {
	var errs []error
	for _, h := range p.health {
		if err := h.Check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// errStarting is /readyz's reason before the process has told systemd it
// is ready.
var errStarting = errors.New("starting")

// ready is /readyz's check: the process has become ready (addWatchdog)
// and every health check passes now.
func (p *parts) ready(ctx context.Context) error {
	if !p.started.Load() {
		return errStarting
	}
	return p.check(ctx)
}

// addWatchdog pings systemd's watchdog while the health checks pass, and
// tells systemd the process is ready: the bus is connected, the topology
// exists and every part is built, so the group is about to run. From then
// on /readyz answers the health checks.
func (p *parts) addWatchdog(g *run.Group, fallbackStream string) {
	if len(p.health) == 0 {
		p.watch(fallbackStream, "")
	}
	addActor(g, p.log, "watchdog", func(ctx context.Context) error { return p.notify.Watchdog(ctx, p.check) }, false)
	p.started.Store(true)
	p.notify.Ready()
}
