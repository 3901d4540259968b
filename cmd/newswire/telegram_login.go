package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/newswire/newswire/ingest/telegram"
)

const telegramUsage = `usage: newswire telegram login [--config FILE] [--phone +NUMBER] [--code-file PATH] [--password-file PATH]

Signs the Telegram account in once and writes telegram.session_file
(default <data_dir>/telegram.session). The phone may also come from
NEWSWIRE_TG_PHONE, the login code from NEWSWIRE_TG_CODE or --code-file (the
command waits for the file to appear: write the code into it from another
shell), the two-step password from NEWSWIRE_TG_PASSWORD or --password-file.
Without them it asks on the terminal.`

func cmdTelegram(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "login" {
		return usageError{telegramUsage}
	}
	fs := flag.NewFlagSet("telegram login", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	phone := fs.String("phone", os.Getenv("NEWSWIRE_TG_PHONE"), "phone number in international format")
	codeFile := fs.String("code-file", "", "wait for the login code in this file")
	passwordFile := fs.String("password-file", "", "read the two-step verification password from this file")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, log, err := setup(*cfgPath)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	tc := cfg.Telegram
	if tc.APIID <= 0 || tc.APIHash.Value() == "" {
		return errors.New("telegram: set telegram.api_id and telegram.api_hash in the configuration (see ingest/telegram/README.md)")
	}
	in := bufio.NewReader(os.Stdin)
	if *phone == "" {
		if *phone, err = prompt(ctx, in, "Phone number (international format, e.g. +15550100): "); err != nil {
			return err
		}
	}
	path := telegramSessionFile(cfg)
	if *codeFile != "" {
		// A code left from an earlier attempt must not be sent again.
		_ = os.Remove(*codeFile)
	}
	user, err := telegram.Login(ctx, telegram.LoginConfig{
		AppID: tc.APIID, AppHash: tc.APIHash.Value(), SessionFile: path, Phone: strings.TrimSpace(*phone),
		Code: func(ctx context.Context) (string, error) {
			switch {
			case *codeFile != "":
				fmt.Fprintf(os.Stderr, "Waiting for the login code in %s (write it there; 10 minutes at most)\n", *codeFile)
				return waitForFile(ctx, *codeFile, 10*time.Minute)
			case os.Getenv("NEWSWIRE_TG_CODE") != "":
				return os.Getenv("NEWSWIRE_TG_CODE"), nil
			}
			return prompt(ctx, in, "Login code (from the Telegram app or SMS): ")
		},
		Password: func(ctx context.Context) (string, error) {
			switch {
			case *passwordFile != "":
				b, err := os.ReadFile(*passwordFile)
				if err != nil {
					return "", fmt.Errorf("read password file: %w", err)
				}
				return strings.TrimRight(string(b), "\r\n"), nil
			case os.Getenv("NEWSWIRE_TG_PASSWORD") != "":
				return os.Getenv("NEWSWIRE_TG_PASSWORD"), nil
			}
			return promptHidden(ctx, in, "Two-step verification password: ")
		},
	}, log)
	if err != nil {
		return err
	}
	log.Info("telegram login done; the session file is written", zap.String("session_file", path), zap.Int64("user_id", user.ID), zap.String("username", user.Username))
	fmt.Fprintf(os.Stderr, "Signed in as %s (id %d). Session written to %s (mode 0600); keep it secret.\n", displayName(user.FirstName, user.Username), user.ID, path)
	return nil
}

func displayName(first, username string) string {
	if username != "" {
		return "@" + username
	}
	return first
}

// prompt reads one line from the terminal, giving up when ctx ends.
func prompt(ctx context.Context, in *bufio.Reader, question string) (string, error) {
	fmt.Fprint(os.Stderr, question)
	type line struct {
		s   string
		err error
	}
	ch := make(chan line, 1)
	go func() {
		s, err := in.ReadString('\n')
		ch <- line{s, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case l := <-ch:
		if l.err != nil && strings.TrimSpace(l.s) == "" {
			return "", fmt.Errorf("read from terminal: %w", l.err)
		}
		return strings.TrimSpace(l.s), nil
	}
}

// promptHidden turns terminal echo off around the prompt when stdin is a
// terminal (stty is on every Unix); elsewhere it reads the line as it is.
func promptHidden(ctx context.Context, in *bufio.Reader, question string) (string, error) {
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		off := exec.CommandContext(ctx, "stty", "-echo")
		off.Stdin = os.Stdin
		if off.Run() == nil {
			defer func() {
				on := exec.Command("stty", "echo")
				on.Stdin = os.Stdin
				_ = on.Run()
				fmt.Fprintln(os.Stderr)
			}()
		}
	}
	return prompt(ctx, in, question)
}

// waitForFile polls for path until it holds a line, then removes it.
func waitForFile(ctx context.Context, path string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) != "" {
			_ = os.Remove(path)
			return strings.TrimSpace(string(b)), nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read code file: %w", err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no login code in %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}
