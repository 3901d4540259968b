// Package service speaks systemd's service protocol: it tells the manager
// when the process is ready and when it stops, and pings the watchdog only
// while the process's health check passes.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// Notifier sends sd_notify messages to $NOTIFY_SOCKET. Outside systemd
// (no NOTIFY_SOCKET) every call does nothing.
type Notifier struct {
	log *zap.Logger
}

// NewNotifier returns a notifier that logs failed sends to log (nil: none).
func NewNotifier(log *zap.Logger) *Notifier {
	if log == nil {
		log = zap.NewNop()
	}
	return &Notifier{log: log}
}

func (n *Notifier) send(state string) bool {
	sent, err := daemon.SdNotify(false, state)
	if err != nil {
		n.log.Warn("sd_notify failed", zap.String("state", state), zap.Error(err))
	}
	return sent
}

// Ready says the service is up: call it once the bus is connected and the
// topology exists.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Stopping says the service has begun to shut down.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Status sets the one-line status `systemctl status` shows.
func (n *Notifier) Status(s string) { n.send("STATUS=" + s) }

// Watchdog pings the systemd watchdog while check passes, until ctx ends.
// It runs only when the unit sets WatchdogSec= (WATCHDOG_USEC); otherwise
// it returns at once. It pings at half the watchdog interval, as sd_notify(3)
// advises; a failing check withholds the ping, so a process whose bus is
// gone or whose consumer has stalled is restarted by systemd. A check may
// take at most half the interval.
func (n *Notifier) Watchdog(ctx context.Context, check func(context.Context) error) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("service: watchdog: %w", err)
	}
	if interval == 0 {
		<-ctx.Done()
		return nil
	}
	every := interval / 2
	t := time.NewTicker(every)
	defer t.Stop()
	healthy := true
	for {
		cctx, cancel := context.WithTimeout(ctx, every)
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err == nil:
			if !healthy {
				n.log.Info("health check passes again; watchdog pings resume")
				n.Status("healthy")
			}
			healthy = true
			n.send(daemon.SdNotifyWatchdog)
		case healthy:
			healthy = false
			n.log.Error("health check fails; withholding watchdog pings", zap.Error(err))
			n.Status("unhealthy: " + err.Error())
		default:
			n.log.Debug("health check still fails", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
