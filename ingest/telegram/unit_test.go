package telegram

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gotd/td/bin"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
)

func TestFileSessionReplacesAtomically(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "tg.session")
	fs := &FileSession{Path: path}
	if _, err := fs.LoadSession(ctx); !errors.Is(err, ErrNoSession) {
		t.Fatalf("load before store: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// An old file with loose permissions is replaced by a private one.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fs.StoreSession(ctx, []byte(`{"new":true}`)); err != nil {
		t.Fatal(err)
	}
	got, err := fs.LoadSession(ctx)
	if err != nil || string(got) != `{"new":true}` {
		t.Fatalf("load: %q %v", got, err)
	}
	// gotd loads before it saves a new key, and at the end of a short run
	// that load gets a cancelled context: it must still read the file, or
	// the save (and the login) is dropped.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := fs.LoadSession(done); err != nil || string(got) != `{"new":true}` {
		t.Fatalf("load with a cancelled context: %q %v", got, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if s := fs.String(); s != "telegram session "+path {
		t.Errorf("String() = %q", s)
	}
}

func TestMarkdownEntities(t *testing.T) {
	for _, c := range []struct {
		name, text, want string
		ents             []tg.MessageEntityClass
	}{
		{"none", "plain", "plain", nil},
		{"nested", "bold italic", "**bold __italic__**", []tg.MessageEntityClass{
			&tg.MessageEntityBold{Offset: 0, Length: 11}, &tg.MessageEntityItalic{Offset: 5, Length: 6}}},
		{"adjacent", "ab", "**a**__b__", []tg.MessageEntityClass{
			&tg.MessageEntityBold{Offset: 0, Length: 1}, &tg.MessageEntityItalic{Offset: 1, Length: 1}}},
		{"astral", "😀 x", "😀 `x`", []tg.MessageEntityClass{&tg.MessageEntityCode{Offset: 3, Length: 1}}},
		{"out of range", "short", "short", []tg.MessageEntityClass{&tg.MessageEntityBold{Offset: 3, Length: 40}}},
		{"negative", "short", "short", []tg.MessageEntityClass{&tg.MessageEntityBold{Offset: -1, Length: 2}}},
		{"paren in url", "see", "[see](https://x.org/a_%29b)", []tg.MessageEntityClass{&tg.MessageEntityTextURL{Offset: 0, Length: 3, URL: "https://x.org/a_)b"}}},
		{"plain entities", "@a #b", "@a #b", []tg.MessageEntityClass{&tg.MessageEntityMention{Offset: 0, Length: 2}, &tg.MessageEntityHashtag{Offset: 3, Length: 2}}},
	} {
		if got := Markdown(c.text, c.ents); got != c.want {
			t.Errorf("%s: got %q want %q", c.name, got, c.want)
		}
	}
}

func TestMissingIDs(t *testing.T) {
	if got := missingIDs(3, []int{4, 6, 9}); !slices.Equal(got, []int{5, 7, 8}) {
		t.Errorf("got %v", got)
	}
	if got := missingIDs(0, nil); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

func TestFloodWaitTooLongFailsFast(t *testing.T) {
	fc := NewFloodControl(100, 30*time.Second, nil)
	calls := 0
	inv := fc.Handle(invoker(func() error { calls++; return tgerr.New(420, "FLOOD_WAIT_3600") }))
	start := time.Now()
	err := inv.Invoke(context.Background(), &tg.HelpGetConfigRequest{}, &tg.Config{})
	if !errors.Is(err, ErrFloodWaitTooLong) || calls != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %d calls in %s", err, calls, time.Since(start))
	}
	if d, ok := tgerr.AsFloodWait(err); !ok || d != time.Hour {
		t.Errorf("the FLOOD_WAIT stays visible: %v %v", d, ok)
	}
	// Other errors pass through untouched and are not retried.
	calls = 0
	inv = fc.Handle(invoker(func() error { calls++; return tgerr.New(400, "CHANNEL_PRIVATE") }))
	if err := inv.Invoke(context.Background(), &tg.HelpGetConfigRequest{}, &tg.Config{}); !tgerr.Is(err, "CHANNEL_PRIVATE") || calls != 1 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

type invoker func() error

func (f invoker) Invoke(context.Context, bin.Encoder, bin.Decoder) error { return f() }

func TestSessionErrorClassification(t *testing.T) {
	for _, name := range []string{"AUTH_KEY_DUPLICATED", "AUTH_KEY_UNREGISTERED", "SESSION_REVOKED"} {
		if err := sessionError(tgerr.New(401, name)); !errors.Is(err, ErrSessionInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if sessionError(tgerr.New(400, "CHANNEL_PRIVATE")) != nil {
		t.Error("CHANNEL_PRIVATE is a source error, not a session error")
	}
}
