package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A unit's LoadCredential= puts each secret in $CREDENTIALS_DIRECTORY;
// cred:NAME reads it there, as a secret value or as a file path.
func TestSecretsFromSystemdCredentials(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"nats-password": "pw-from-systemd\n", "nats.creds": "-----BEGIN NATS USER JWT-----\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	cfg, err := Parse([]byte("nats:\n  user: normalize\n  password: cred:nats-password\n  creds_file: cred:nats.creds\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.NATS.Password.Value(); got != "pw-from-systemd" {
		t.Errorf("password = %q", got)
	}
	if want := filepath.Join(dir, "nats.creds"); cfg.NATS.CredsFile != want {
		t.Errorf("creds_file = %q, want %q", cfg.NATS.CredsFile, want)
	}

	_, err = Parse([]byte("nats:\n  password: cred:missing\n"))
	if err == nil || !strings.Contains(err.Error(), "nats.password") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing credential: %v", err)
	}
	_, err = Parse([]byte("nats:\n  password: cred:../etc/shadow\n"))
	if err == nil || !strings.Contains(err.Error(), "plain file name") {
		t.Errorf("credential name with a path: %v", err)
	}

	t.Setenv("CREDENTIALS_DIRECTORY", "")
	_, err = Parse([]byte("nats:\n  password: cred:nats-password\n  nkey_file: cred:nats.nk\n"))
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 || !strings.Contains(err.Error(), "LoadCredential=") {
		t.Errorf("outside systemd: %v", err)
	}
}
