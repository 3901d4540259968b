package telegram

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	gotd "github.com/gotd/td/telegram"
	"github.com/gotd/td/tg"
	"github.com/gotd/td/tgerr"
	"github.com/gotd/td/tgtest"
	"github.com/gotd/td/tgtest/cluster"
	"go.uber.org/zap"
	"golang.org/x/crypto/pbkdf2"
)

// telegramSP is Telegram's published 2048-bit SRP group prime.
const telegramSP = "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b"

var testUser = &tg.User{ID: 77, AccessHash: 7700, Username: "newsdesk", FirstName: "News", Self: true}

// world is the state behind the handlers of a tgtest cluster: channels
// with their messages, plus switches for the failures under test.
type world struct {
	mu       sync.Mutex
	channels map[string]*tg.Channel // by lower-case username
	messages map[int64][]tg.MessageClass
	private  map[string]bool
	// hiddenIDs are left out of history pages but still fetchable by id,
	// the way a page can miss a post that exists.
	hiddenIDs map[int]bool
	srpB      *big.Int

	code     string
	password string // non-empty: the account has two-step verification
	srpID    int64

	floodWaits  int    // answer this many getHistory calls with FLOOD_WAIT_1
	historyErr  string // answer getHistory with this RPC error
	getMsgErr   string // answer channels.getMessages with this RPC error
	signedIn    bool
	calls       []string
	historyReqs []tg.MessagesGetHistoryRequest
	getMsgReqs  [][]int
}

func newWorld() *world {
	return &world{channels: map[string]*tg.Channel{}, messages: map[int64][]tg.MessageClass{}, private: map[string]bool{}, hiddenIDs: map[int]bool{}, code: "12345", srpID: 4242}
}

func (w *world) addChannel(id int64, username, title string) *tg.Channel {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := &tg.Channel{ID: id, AccessHash: id * 31, Username: username, Title: title, Broadcast: true, Photo: &tg.ChatPhotoEmpty{}, Date: 1600000000}
	ch.SetFlags()
	w.channels[lower(username)] = ch
	return ch
}

func (w *world) post(channelID int64, msgs ...tg.MessageClass) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages[channelID] = append(w.messages[channelID], msgs...)
}

// remove deletes messages from a channel, the way its admin would.
func (w *world) remove(channelID int64, ids ...int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages[channelID] = slices.DeleteFunc(w.messages[channelID], func(m tg.MessageClass) bool { return slices.Contains(ids, m.GetID()) })
}

func (w *world) record(call string) {
	w.mu.Lock()
	w.calls = append(w.calls, call)
	w.mu.Unlock()
}

func (w *world) count(call string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (w *world) allChats() []tg.ChatClass {
	var out []tg.ChatClass
	for _, ch := range w.channels {
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b tg.ChatClass) int { return int(a.GetID() - b.GetID()) })
	return out
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func textMsg(channelID int64, id int, text string) *tg.Message {
	m := &tg.Message{ID: id, PeerID: &tg.PeerChannel{ChannelID: channelID}, Date: 1717236000 + id*60, Message: text, Post: true, Views: 100 * id}
	m.SetFlags()
	return m
}

// register installs the handlers on the cluster's common dispatcher.
func (w *world) register(t testing.TB, d *tgtest.Dispatcher) {
	d.HandleFunc(tg.UsersGetUsersRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("users.getUsers")
		w.mu.Lock()
		in := w.signedIn
		w.mu.Unlock()
		if !in {
			return s.SendErr(req, tgerr.New(401, "AUTH_KEY_UNREGISTERED"))
		}
		return s.SendVector(req, testUser)
	})
	d.HandleFunc(tg.AuthSendCodeRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("auth.sendCode")
		return s.SendResult(req, &tg.AuthSentCode{Type: &tg.AuthSentCodeTypeApp{Length: 5}, PhoneCodeHash: "hash-1"})
	})
	d.HandleFunc(tg.AuthSignInRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("auth.signIn")
		var r tg.AuthSignInRequest
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.PhoneCode != w.code || r.PhoneCodeHash != "hash-1" {
			return s.SendErr(req, tgerr.New(400, "PHONE_CODE_INVALID"))
		}
		if w.password != "" {
			return s.SendErr(req, tgerr.New(401, "SESSION_PASSWORD_NEEDED"))
		}
		w.signedIn = true
		return s.SendResult(req, &tg.AuthAuthorization{User: testUser})
	})
	d.HandleFunc(tg.AccountGetPasswordRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("account.getPassword")
		return s.SendResult(req, w.srpParams(t))
	})
	d.HandleFunc(tg.AuthCheckPasswordRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("auth.checkPassword")
		var r tg.AuthCheckPasswordRequest
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
		srp, ok := r.Password.(*tg.InputCheckPasswordSRP)
		if !ok || !w.checkSRP(srp) {
			return s.SendErr(req, tgerr.New(400, "PASSWORD_HASH_INVALID"))
		}
		w.mu.Lock()
		w.signedIn = true
		w.mu.Unlock()
		return s.SendResult(req, &tg.AuthAuthorization{User: testUser})
	})
	d.HandleFunc(tg.ContactsResolveUsernameRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("contacts.resolveUsername")
		var r tg.ContactsResolveUsernameRequest
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		name := lower(r.Username)
		if w.private[name] {
			return s.SendErr(req, tgerr.New(400, "CHANNEL_PRIVATE"))
		}
		ch, ok := w.channels[name]
		if !ok {
			return s.SendErr(req, tgerr.New(400, "USERNAME_NOT_OCCUPIED"))
		}
		return s.SendResult(req, &tg.ContactsResolvedPeer{Peer: &tg.PeerChannel{ChannelID: ch.ID}, Chats: []tg.ChatClass{ch}, Users: []tg.UserClass{}})
	})
	d.HandleFunc(tg.MessagesGetHistoryRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("messages.getHistory")
		var r tg.MessagesGetHistoryRequest
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.historyReqs = append(w.historyReqs, r)
		if w.historyErr != "" {
			return s.SendErr(req, tgerr.New(401, w.historyErr))
		}
		if w.floodWaits > 0 {
			w.floodWaits--
			return s.SendErr(req, tgerr.New(420, "FLOOD_WAIT_1"))
		}
		peer, ok := r.Peer.(*tg.InputPeerChannel)
		if !ok || !w.knownPeer(peer.ChannelID, peer.AccessHash) {
			return s.SendErr(req, tgerr.New(400, "CHANNEL_INVALID"))
		}
		// Newest first, below offset_id, above min_id, at most limit: the
		// documented semantics of messages.getHistory.
		var page []tg.MessageClass
		all := slices.Clone(w.messages[peer.ChannelID])
		slices.SortFunc(all, func(a, b tg.MessageClass) int { return b.GetID() - a.GetID() })
		for _, m := range all {
			if id := m.GetID(); !w.hiddenIDs[id] && id > r.MinID && (r.OffsetID == 0 || id < r.OffsetID) && (r.MaxID == 0 || id < r.MaxID) && len(page) < r.Limit {
				page = append(page, m)
			}
		}
		return s.SendResult(req, &tg.MessagesChannelMessages{Pts: 1, Count: len(all), Messages: page, Chats: w.allChats(), Users: []tg.UserClass{}, Topics: []tg.ForumTopicClass{}})
	})
	d.HandleFunc(tg.ChannelsGetMessagesRequestTypeID, func(s *tgtest.Server, req *tgtest.Request) error {
		w.record("channels.getMessages")
		var r tg.ChannelsGetMessagesRequest
		if err := r.Decode(req.Buf); err != nil {
			return err
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		in, ok := r.Channel.(*tg.InputChannel)
		if !ok || !w.knownPeer(in.ChannelID, in.AccessHash) {
			return s.SendErr(req, tgerr.New(400, "CHANNEL_INVALID"))
		}
		if w.getMsgErr != "" {
			return s.SendErr(req, tgerr.New(500, w.getMsgErr))
		}
		var ids []int
		var out []tg.MessageClass
		for _, im := range r.ID {
			id := im.(*tg.InputMessageID).ID
			ids = append(ids, id)
			var found tg.MessageClass = &tg.MessageEmpty{ID: id}
			for _, m := range w.messages[in.ChannelID] {
				if m.GetID() == id {
					found = m
				}
			}
			out = append(out, found)
		}
		w.getMsgReqs = append(w.getMsgReqs, ids)
		return s.SendResult(req, &tg.MessagesChannelMessages{Pts: 1, Count: len(out), Messages: out, Chats: w.allChats(), Users: []tg.UserClass{}, Topics: []tg.ForumTopicClass{}})
	})
}

// knownPeer needs w.mu held.
func (w *world) knownPeer(id, hash int64) bool {
	for _, ch := range w.channels {
		if ch.ID == id && ch.AccessHash == hash {
			return true
		}
	}
	return false
}

// startCluster runs a tgtest cluster with one DC until the test ends and
// returns client options that reach it.
func startCluster(t *testing.T, w *world) gotd.Options {
	t.Helper()
	c := cluster.NewCluster(cluster.Options{Logger: zap.NewNop()})
	c.Dispatch(2, "dc2")
	w.register(t, c.Common())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Up(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("cluster: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("tgtest cluster did not stop")
		}
	})
	select {
	case <-c.Ready():
	case <-time.After(2 * time.Minute):
		t.Fatal("tgtest cluster not ready")
	}
	return gotd.Options{PublicKeys: c.Keys(), Resolver: c.Resolver(), DCList: c.List(), DC: 2}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func sessionPath(t *testing.T) string { return filepath.Join(t.TempDir(), "state", "telegram.session") }

// The server half of Telegram's SRP (core.telegram.org/api/srp), so that
// the 2FA test checks the password the client proves, not just that it
// sent something.

var srpSalt1, srpSalt2 = []byte("newswire-salt-one"), []byte("newswire-salt-two")

func srpAlgo() *tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow {
	return &tg.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow{Salt1: srpSalt1, Salt2: srpSalt2, G: 3, P: mustHex(telegramSP)}
}

func sha(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func pad256(n *big.Int) []byte { return n.FillBytes(make([]byte, 256)) }

func srpVerifier(password string) (v, p, g *big.Int) {
	sh := func(data, salt []byte) []byte { return sha(salt, data, salt) }
	ph1 := sh(sh([]byte(password), srpSalt1), srpSalt2)
	ph2 := sh(pbkdf2.Key(ph1, srpSalt1, 100000, 64, sha512.New), srpSalt2)
	p = new(big.Int).SetBytes(mustHex(telegramSP))
	g = big.NewInt(3)
	return new(big.Int).Exp(g, new(big.Int).SetBytes(ph2), p), p, g
}

func (w *world) srpParams(t testing.TB) *tg.AccountPassword {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, p, g := srpVerifier(w.password)
	b, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 2048))
	if err != nil {
		t.Errorf("srp: %v", err)
	}
	w.srpB = b
	k := new(big.Int).SetBytes(sha(pad256(p), pad256(g)))
	gb := new(big.Int).Mod(new(big.Int).Add(new(big.Int).Mul(k, v), new(big.Int).Exp(g, b, p)), p)
	ap := &tg.AccountPassword{HasPassword: true, CurrentAlgo: srpAlgo(), SRPB: pad256(gb), SRPID: w.srpID,
		NewAlgo: srpAlgo(), NewSecureAlgo: &tg.SecurePasswordKdfAlgoUnknown{}, SecureRandom: make([]byte, 32)}
	ap.SetFlags()
	return ap
}

func (w *world) checkSRP(in *tg.InputCheckPasswordSRP) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.srpB == nil || in.SRPID != w.srpID {
		return false
	}
	v, p, g := srpVerifier(w.password)
	k := new(big.Int).SetBytes(sha(pad256(p), pad256(g)))
	gb := new(big.Int).Mod(new(big.Int).Add(new(big.Int).Mul(k, v), new(big.Int).Exp(g, w.srpB, p)), p)
	ga := new(big.Int).SetBytes(in.A)
	u := new(big.Int).SetBytes(sha(pad256(ga), pad256(gb)))
	s := new(big.Int).Exp(new(big.Int).Mul(ga, new(big.Int).Exp(v, u, p)), w.srpB, p)
	key := sha(pad256(s))
	hp, hg := sha(pad256(p)), sha(pad256(g))
	x := make([]byte, len(hp))
	for i := range x {
		x[i] = hp[i] ^ hg[i]
	}
	m1 := sha(x, sha(srpSalt1), sha(srpSalt2), pad256(ga), pad256(gb), key)
	return hex.EncodeToString(m1) == hex.EncodeToString(in.M1)
}
