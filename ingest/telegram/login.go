package telegram

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	gotd "github.com/gotd/td/telegram"
	"github.com/gotd/td/telegram/auth"
	"github.com/gotd/td/tg"
	"go.uber.org/zap"
)

// ErrSignUpUnsupported: the phone number has no Telegram account yet.
var ErrSignUpUnsupported = errors.New("telegram: this phone number has no Telegram account; sign up in an official app first")

// LoginConfig configures a one-time sign-in.
type LoginConfig struct {
	AppID       int
	AppHash     string
	SessionFile string
	Phone       string
	// Code returns the login code Telegram sent (in the app or by SMS).
	Code func(ctx context.Context) (string, error)
	// Password returns the account's two-step verification password; it is
	// called only when the account has one.
	Password func(ctx context.Context) (string, error)
	// Client holds transport settings, as in Config.
	Client gotd.Options
}

// Login signs the account in and writes the session file. An account
// that is already signed in with this session is left as it is. It
// returns the signed-in user.
func Login(ctx context.Context, cfg LoginConfig, log *zap.Logger) (*tg.User, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.AppID <= 0 || cfg.AppHash == "" {
		return nil, errors.New("telegram: api_id and api_hash are required (my.telegram.org → API development tools)")
	}
	if cfg.SessionFile == "" || cfg.Code == nil {
		return nil, errors.New("telegram: login needs a session file and a code source")
	}
	if cfg.Password == nil {
		cfg.Password = func(context.Context) (string, error) {
			return "", errors.New("telegram: the account has two-step verification; give its password")
		}
	}
	client := gotd.NewClient(cfg.AppID, cfg.AppHash, clientOptions(cfg.Client, cfg.SessionFile, log.Named("telegram")))
	var self *tg.User
	err := client.Run(ctx, func(ctx context.Context) error {
		status, err := client.Auth().Status(ctx)
		if err != nil {
			return fmt.Errorf("telegram: check authorization: %w", err)
		}
		if !status.Authorized {
			if cfg.Phone == "" {
				return errors.New("telegram: a phone number is required to log in")
			}
			flow := auth.NewFlow(userAuth{cfg: cfg}, auth.SendCodeOptions{})
			if err := client.Auth().IfNecessary(ctx, flow); err != nil {
				if errors.Is(err, auth.ErrPasswordInvalid) {
					return fmt.Errorf("telegram: two-step verification password is wrong: %w", err)
				}
				return fmt.Errorf("telegram: login: %w", err)
			}
		}
		self, err = client.Self(ctx)
		if err != nil {
			return fmt.Errorf("telegram: read signed-in user: %w", err)
		}
		// gotd saves the key from its connection goroutine just after the
		// connection comes up; wait for it while the client still runs.
		if err := waitForFile(ctx, cfg.SessionFile, 10*time.Second); err != nil {
			return fmt.Errorf("telegram: signed in, but the session was not saved: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// gotd saves the key from its connection goroutine as the connection
	// comes up, which can land a moment after Run returns; make sure it
	// did before telling the operator the login is done.
	if err := waitForFile(ctx, cfg.SessionFile, 10*time.Second); err != nil {
		return nil, fmt.Errorf("telegram: signed in, but the session was not saved: %w", err)
	}
	return self, nil
}

// userAuth feeds gotd's login flow from the configured sources.
type userAuth struct{ cfg LoginConfig }

func (u userAuth) Phone(context.Context) (string, error) { return u.cfg.Phone, nil }

func (u userAuth) Password(ctx context.Context) (string, error) {
	p, err := u.cfg.Password(ctx)
	return strings.TrimRight(p, "\r\n"), err
}

func (u userAuth) Code(ctx context.Context, _ *tg.AuthSentCode) (string, error) {
	code, err := u.cfg.Code(ctx)
	if err != nil {
		return "", fmt.Errorf("telegram: read login code: %w", err)
	}
	// Codes are digits; people paste them with spaces or dashes.
	code = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, code)
	if code == "" {
		return "", errors.New("telegram: empty login code")
	}
	return code, nil
}

func (u userAuth) AcceptTermsOfService(context.Context, tg.HelpTermsOfService) error {
	return ErrSignUpUnsupported
}

func (u userAuth) SignUp(context.Context) (auth.UserInfo, error) {
	return auth.UserInfo{}, ErrSignUpUnsupported
}

// waitForFile waits until path exists, ctx ends or limit passes.
func waitForFile(ctx context.Context, path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		_, err := os.Stat(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
