package service

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestJournalEncoderWritesPrioritiesAndNoTime(t *testing.T) {
	var out bytes.Buffer
	core := zapcore.NewCore(NewJournalEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&out), zapcore.DebugLevel)
	log := zap.New(core).Named("rss").With(zap.String("source", "bbc-world"))
	log.Debug("polling")
	log.Info("polled", zap.Int("items", 3))
	log.Warn("slow feed")
	log.Error("feed failed", zap.Error(errors.New("bad XML")))
	log.Error("trace\nline two")
	want := []string{
		`<7>rss polling {"source": "bbc-world"}`,
		`<6>rss polled {"source": "bbc-world", "items": 3}`,
		`<4>rss slow feed {"source": "bbc-world"}`,
		`<3>rss feed failed {"source": "bbc-world", "error": "bad XML"}`,
		`<3>rss trace`,
		`<3>line two {"source": "bbc-world"}`,
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), out.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPriorities(t *testing.T) {
	for l, want := range map[zapcore.Level]string{zapcore.DebugLevel: "<7>", zapcore.InfoLevel: "<6>", zapcore.WarnLevel: "<4>", zapcore.ErrorLevel: "<3>", zapcore.DPanicLevel: "<2>", zapcore.FatalLevel: "<2>"} {
		if got := priority(l); got != want {
			t.Errorf("%s: %s, want %s", l, got, want)
		}
	}
}

// IsJournal is true only for the very file JOURNAL_STREAM names.
func TestIsJournalMatchesDeviceAndInode(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	journal, other := open("journal"), open("other")
	var st syscall.Stat_t
	if err := syscall.Fstat(int(journal.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !IsJournal(journal) {
		t.Error("the stream JOURNAL_STREAM names is not taken for the journal")
	}
	if IsJournal(other) {
		t.Error("another file is taken for the journal (an inherited JOURNAL_STREAM)")
	}
	for _, v := range []string{"", "garbage", fmt.Sprintf("%d", st.Dev)} {
		t.Setenv("JOURNAL_STREAM", v)
		if IsJournal(journal) {
			t.Errorf("JOURNAL_STREAM=%q taken for a match", v)
		}
	}
}
