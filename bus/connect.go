package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/newswire/newswire/redact"
)

// ConnConfig says how to reach NATS.
type ConnConfig struct {
	URLs      []string
	Name      string
	User      string
	Password  string
	Token     string
	NKeyFile  string
	CredsFile string
	TLS       TLSConfig
	// ConnectTimeout bounds the first connection; zero means 10s.
	ConnectTimeout time.Duration
}

// TLSConfig holds client TLS settings.
type TLSConfig struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
}

// ErrUnreachable wraps a failure to reach any configured NATS server.
var ErrUnreachable = errors.New("bus: cannot reach NATS")

// Connect dials NATS with the configured credentials. Once connected, the
// client reconnects forever; losing the connection is logged, not fatal.
func Connect(ctx context.Context, cfg ConnConfig, log *zap.Logger) (*nats.Conn, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("bus: no NATS URL configured")
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", zap.String("url", redact.URL(nc.ConnectedUrl()))) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			log.Warn("nats async error", zap.String("subject", subj), zap.Error(err))
		}),
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey file %s: %w", cfg.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if tc, err := cfg.TLS.build(); err != nil {
		return nil, err
	} else if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
		ch <- result{nc, err}
	}()
	select {
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("bus: connect: %w", ctx.Err())
	case r := <-ch:
		if r.err != nil {
			urls := make([]string, len(cfg.URLs))
			for i, u := range cfg.URLs {
				urls[i] = redact.URL(u)
			}
			return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, strings.Join(urls, ","), r.err)
		}
		return r.nc, nil
	}
}

func (t TLSConfig) build() (*tls.Config, error) {
	if t.CAFile == "" && t.CertFile == "" && !t.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // operator's explicit choice
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bus: tls ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bus: tls ca file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
