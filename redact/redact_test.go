package redact

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"nats://newswire:hunter2@nats-1:4222":                        "nats://newswire:[redacted]@nats-1:4222",
		"bus: cannot reach NATS at nats://s3cr3tt0k3n@10.0.0.1:4222": "bus: cannot reach NATS at nats://[redacted]@10.0.0.1:4222",
		"tls://a:b@x,nats://c:d@y":                                   "tls://a:[redacted]@x,nats://c:[redacted]@y",
		"Authorization: Bearer eyJhbGciOi.J9x-y_z":                   "Authorization: Bearer [redacted]",
		"GET https://api.example.org/feed?id=7&token=abc123&x=1":     "GET https://api.example.org/feed?id=7&token=[redacted]&x=1",
		"mailto:desk@example.org":                                    "mailto:desk@example.org",
		"https://example.org/a@b":                                    "https://example.org/a@b",
		"Authorization: Basic dXNlcjpwYXNz":                          "Authorization: Basic [redacted]",
		"the basic settings are kept":                                "the basic settings are kept",
		"no secrets here":                                            "no secrets here",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterHidesSecretsInEveryEncoding(t *testing.T) {
	secret := `pa"ss\word-42`
	for _, enc := range []zapcore.Encoder{
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()),
	} {
		var buf bytes.Buffer
		sc := NewScrubber(secret, "tok")
		log := zap.New(zapcore.NewCore(enc, sc.Writer(zapcore.AddSync(&buf)), zap.DebugLevel))
		log.Info("connected to nats://u:"+secret+"@h", zap.String("password", secret), zap.Error(errString("auth with "+secret+" failed")))
		log.Info("a tok is not hidden: too short")
		out := buf.String()
		if strings.Contains(out, "word-42") || strings.Count(out, Mask) < 3 {
			t.Errorf("secret left in the log:\n%s", out)
		}
		if !strings.Contains(out, "a tok is not hidden") {
			t.Errorf("a short value was masked:\n%s", out)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
