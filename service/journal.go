package service

import (
	"bytes"
	"fmt"
	"os"
	"syscall"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// IsJournal reports whether f is the stream systemd connected to the
// journal: $JOURNAL_STREAM holds that stream's "device:inode", and a child
// that inherited the variable but not the descriptor must not match, so the
// file's own device and inode are compared with it.
func IsJournal(f *os.File) bool {
	v := os.Getenv("JOURNAL_STREAM")
	if v == "" {
		return false
	}
	var dev, ino uint64
	if n, err := fmt.Sscanf(v, "%d:%d", &dev, &ino); n != 2 || err != nil {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return uint64(st.Dev) == dev && uint64(st.Ino) == ino //nolint:unconvert // field widths differ by platform
}

// journalEncoder writes a line per entry for journald's stream transport:
// an sd-daemon priority prefix ("<3>" error … "<7>" debug), so that
// journalctl -p filters by level, and no timestamp, since the journal
// stamps each line itself. Message and fields are as the console encoder
// writes them. A multi-line message (a stack trace) gets the prefix on every
// line, or journald would file its later lines at the default priority.
type journalEncoder struct {
	zapcore.Encoder
}

// NewJournalEncoder returns the encoder for stderr when it is the journal.
func NewJournalEncoder(cfg zapcore.EncoderConfig) zapcore.Encoder {
	cfg.TimeKey = ""
	cfg.LevelKey = ""
	cfg.ConsoleSeparator = " "
	return journalEncoder{zapcore.NewConsoleEncoder(cfg)}
}

func (e journalEncoder) Clone() zapcore.Encoder { return journalEncoder{e.Encoder.Clone()} }

var journalPool = buffer.NewPool()

func (e journalEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	line, err := e.Encoder.EncodeEntry(ent, fields)
	if err != nil {
		return nil, err
	}
	defer line.Free()
	prefix := priority(ent.Level)
	body := bytes.TrimRight(line.Bytes(), "\n")
	out := journalPool.Get()
	for {
		out.AppendString(prefix)
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			out.Write(body)
			break
		}
		out.Write(body[:i+1])
		body = body[i+1:]
	}
	out.AppendByte('\n')
	return out, nil
}

// priority is the sd-daemon(3) prefix of a zap level.
func priority(l zapcore.Level) string {
	switch {
	case l >= zapcore.DPanicLevel:
		return "<2>" // critical
	case l == zapcore.ErrorLevel:
		return "<3>"
	case l == zapcore.WarnLevel:
		return "<4>"
	case l == zapcore.InfoLevel:
		return "<6>"
	default:
		return "<7>"
	}
}
