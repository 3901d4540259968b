package bus

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// EmbeddedConfig configures the in-process nats-server that `newswire run`
// starts by default.
//
//	embedded:
//	  host: 127.0.0.1
//	  port: 4222            # -1 picks a random free port
//	  sync_interval: always # or a duration such as 2m; "always" fsyncs every write
//	  max_memory: 256MiB
//	  max_store: 10GiB
//	  max_payload: 8MiB
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files (under the data directory).
	StoreDir string
	Host     string
	Port     int
	// SyncAlways makes every acknowledged write durable on disk before the
	// PubAck. When false, SyncInterval is used.
	SyncAlways   bool
	SyncInterval time.Duration
	MaxMemory    int64
	MaxStore     int64
	MaxPayload   int32
	// ServerName is the server's name in logs and cluster views.
	ServerName string
	// Token, when set, is required of every client (`newswire run` keeps
	// one in data_dir/nats.token). Without it any local process could
	// publish withdrawals or purge the streams.
	Token string
}

// Embedded is a running in-process nats-server.
type Embedded struct {
	srv *server.Server
}

// ErrServerNotReady is returned when the embedded server does not start in time.
var ErrServerNotReady = errors.New("bus: embedded nats-server did not become ready")

// StartEmbedded starts a JetStream-enabled nats-server in this process. Its
// logs go to log.
func StartEmbedded(cfg EmbeddedConfig, log *zap.Logger) (*Embedded, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("bus: embedded server needs a store directory")
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: create store dir: %w", err)
	}
	abs, err := filepath.Abs(cfg.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("bus: store dir: %w", err)
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               cfg.Host,
		Port:               cfg.Port,
		JetStream:          true,
		StoreDir:           abs,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		MaxPayload:         cfg.MaxPayload,
		SyncAlways:         cfg.SyncAlways,
		SyncInterval:       cfg.SyncInterval,
		NoSigs:             true,
		Authorization:      cfg.Token,
	}
	if opts.ServerName == "" {
		opts.ServerName = "newswire"
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if !isLoopback(opts.Host) {
		if cfg.Token == "" {
			log.Warn("EMBEDDED NATS LISTENS BEYOND THIS HOST WITHOUT AUTHENTICATION: anyone who reaches it can publish, withdraw and purge; listen on 127.0.0.1 or set a token",
				zap.String("host", opts.Host), zap.Int("port", opts.Port))
		} else {
			log.Warn("embedded NATS listens beyond this host: clients need the token, which travels in clear text (no TLS); prefer 127.0.0.1 or a NATS cluster with TLS",
				zap.String("host", opts.Host), zap.Int("port", opts.Port))
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: configure embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(&zapLogger{log: log.Named("nats-server").Sugar()}, false, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, ErrServerNotReady
	}
	return &Embedded{srv: srv}, nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ClientURL is the URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits until it has flushed and closed its stores.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

type zapLogger struct{ log *zap.SugaredLogger }

func (l *zapLogger) Noticef(format string, v ...any) { l.log.Infof(format, v...) }
func (l *zapLogger) Warnf(format string, v ...any)   { l.log.Warnf(format, v...) }
func (l *zapLogger) Fatalf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *zapLogger) Errorf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *zapLogger) Debugf(format string, v ...any)  { l.log.Debugf(format, v...) }
func (l *zapLogger) Tracef(format string, v ...any)  { l.log.Debugf(format, v...) }
