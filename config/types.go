package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "90s", "5m", "72h" or "7d".
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration is time.ParseDuration plus a "d" (24h) unit.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use 90s, 5m, 72h or 7d)", s)
	}
	return d, nil
}

// Size is a byte count written as "512MiB", "10GiB", "8MB" or a number.
type Size int64

// UnmarshalYAML reads a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseSize reads "512MiB", "10GiB", "8MB" or a plain number of bytes.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), 64)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("invalid size %q", s)
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (use 512MiB, 10GiB or bytes)", s)
	}
	return n, nil
}

// Secret is a credential. In the file it is written as "env:NAME" (read
// from the environment), "file:/path" (read from a file, trailing newline
// dropped) or "cred:NAME" (the systemd credential NAME, a file in
// $CREDENTIALS_DIRECTORY, loaded by the unit's LoadCredential=); a literal
// value is accepted but discouraged.
type Secret struct {
	Ref   string
	value string
}

// UnmarshalYAML keeps the reference; Resolve reads it.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	s.Ref = n.Value
	return nil
}

// Value is the resolved secret.
func (s Secret) Value() string { return s.value }

// String never shows the secret.
func (s Secret) String() string {
	if s.Ref == "" {
		return ""
	}
	return "[secret]"
}

// ErrSecretUnset is returned for an env: secret whose variable is empty.
var ErrSecretUnset = errors.New("environment variable is not set")

// Resolve reads the secret from the environment or file it names.
func (s *Secret) Resolve() error {
	switch {
	case s.Ref == "":
		return nil
	case strings.HasPrefix(s.Ref, "env:"):
		name := strings.TrimPrefix(s.Ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return fmt.Errorf("%s: %w", name, ErrSecretUnset)
		}
		s.value = v
	case strings.HasPrefix(s.Ref, "file:"), strings.HasPrefix(s.Ref, "cred:"):
		path, err := CredentialPath(s.Ref)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read secret file: %w", err)
		}
		s.value = strings.TrimRight(string(b), "\r\n")
	default:
		s.value = s.Ref
	}
	return nil
}

// Secrets lists the resolved values of every secret in the file, and the
// passwords of NATS URLs, for the log scrubber.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []Secret{c.NATS.Password, c.NATS.Token, c.Telegram.APIHash} {
		if v := s.Value(); v != "" {
			out = append(out, v)
		}
	}
	for _, u := range c.NATS.URLs {
		if pu, err := url.Parse(u); err == nil && pu.User != nil {
			if p, ok := pu.User.Password(); ok {
				out = append(out, p)
			} else if n := pu.User.Username(); n != "" {
				out = append(out, n) // a token written as nats://TOKEN@host
			}
		}
	}
	return out
}

// ErrNoCredentials is returned for a cred: reference outside a systemd
// unit that loads credentials.
var ErrNoCredentials = errors.New("CREDENTIALS_DIRECTORY is not set (cred: names a systemd credential: load it with LoadCredential= in the unit)")

// CredentialPath turns a file reference into a path: "cred:NAME" is NAME in
// $CREDENTIALS_DIRECTORY, "file:/path" is /path, anything else is a path
// as written. It reads nothing.
func CredentialPath(ref string) (string, error) {
	if name, ok := strings.CutPrefix(ref, "cred:"); ok {
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			return "", fmt.Errorf("credential name %q: must be a plain file name", name)
		}
		dir := os.Getenv("CREDENTIALS_DIRECTORY")
		if dir == "" {
			return "", fmt.Errorf("cred:%s: %w", name, ErrNoCredentials)
		}
		return filepath.Join(dir, name), nil
	}
	return strings.TrimPrefix(ref, "file:"), nil
}
