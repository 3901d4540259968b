// Command natsserver runs the embedded nats-server of `newswire run` on
// its own, in a process of its own, so that the reliability tests can
// SIGKILL the server and start it again on the same store while the
// stages run as separate processes. It uses bus.StartEmbedded with the
// data directory's token, exactly as `newswire run` does.
//
//	natsserver -data DIR -port 4222 [-sync always|DURATION]
//
// It prints "ready <client url>" on stdout once clients can connect, and
// stops on SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/bus"
	"github.com/newswire/newswire/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "natsserver: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	data := flag.String("data", "", "data directory: JetStream store under jetstream/, token in nats.token")
	port := flag.Int("port", -1, "client port (-1: a free one)")
	sync := flag.String("sync", "always", `"always" (fsync before every PubAck) or a sync interval`)
	flag.Parse()
	if *data == "" {
		return fmt.Errorf("-data is required")
	}
	tok, err := config.LoadOrCreateKey(filepath.Join(*data, "nats.token"))
	if err != nil {
		return err
	}
	ec := bus.EmbeddedConfig{StoreDir: filepath.Join(*data, "jetstream"), Port: *port, Token: tok,
		MaxMemory: 256 << 20, MaxStore: 4 << 30, MaxPayload: 8 << 20, ServerName: "natsserver"}
	if *sync == "always" {
		ec.SyncAlways = true
	} else if ec.SyncInterval, err = time.ParseDuration(*sync); err != nil {
		return fmt.Errorf("-sync: %w", err)
	}
	log, err := zap.NewProduction()
	if err != nil {
		return err
	}
	emb, err := bus.StartEmbedded(ec, log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)))
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", emb.ClientURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	emb.Shutdown()
	return nil
}
