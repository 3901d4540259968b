package telegram

import (
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/gotd/td/tg"
)

// Markdown renders a message's text with its entities as the
// markdown-like text newswire carries for Telegram (wire.FormatMarkdown):
// **bold**, __italic__, ~~strike~~, ||spoiler||, `code`, ```pre```, and
// [label](url) for text links. Mentions, hashtags and bare URLs are
// already in the text and stay as they are. ingest/tgweb renders the
// preview's HTML to the same marks, so both collectors give one text.
//
// Entity offsets count UTF-16 code units, so the text is walked as UTF-16.
func Markdown(text string, entities []tg.MessageEntityClass) string {
	if len(entities) == 0 {
		return text
	}
	units := utf16.Encode([]rune(text))
	type mark struct {
		at    int
		open  bool
		order int // opens in entity order, closes in reverse, so nesting stays balanced
		s     string
	}
	var marks []mark
	for i, e := range entities {
		open, close := entityMarks(e)
		if open == "" && close == "" {
			continue
		}
		start, end := e.GetOffset(), e.GetOffset()+e.GetLength()
		if start < 0 || end > len(units) || start >= end {
			continue // a malformed entity loses its mark, never the text
		}
		marks = append(marks, mark{at: start, open: true, order: i, s: open}, mark{at: end, open: false, order: i, s: close})
	}
	sort.SliceStable(marks, func(i, j int) bool {
		a, b := marks[i], marks[j]
		if a.at != b.at {
			return a.at < b.at
		}
		if a.open != b.open {
			return !a.open // close before open at the same point
		}
		if a.open {
			return a.order < b.order
		}
		return a.order > b.order
	})
	var out strings.Builder
	out.Grow(len(text) + 8*len(marks))
	pos := 0
	for _, m := range marks {
		out.WriteString(string(utf16.Decode(units[pos:m.at])))
		out.WriteString(m.s)
		pos = m.at
	}
	out.WriteString(string(utf16.Decode(units[pos:])))
	return out.String()
}

func entityMarks(e tg.MessageEntityClass) (open, close string) {
	switch e := e.(type) {
	case *tg.MessageEntityBold:
		return "**", "**"
	case *tg.MessageEntityItalic:
		return "__", "__"
	case *tg.MessageEntityStrike:
		return "~~", "~~"
	case *tg.MessageEntitySpoiler:
		return "||", "||"
	case *tg.MessageEntityCode:
		return "`", "`"
	case *tg.MessageEntityPre:
		return "```", "```"
	case *tg.MessageEntityTextURL:
		return "[", "](" + strings.ReplaceAll(e.URL, ")", "%29") + ")"
	case *tg.MessageEntityMentionName:
		return "[", "](tg://user?id=" + itoa(e.UserID) + ")"
	}
	return "", ""
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// PollText renders a poll as the body of a post that has no text of its
// own: the question, then one "- answer" line per answer. ingest/tgweb
// renders the preview's poll the same way.
func PollText(question string, answers []string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(question))
	for _, a := range answers {
		b.WriteString("\n- ")
		b.WriteString(strings.TrimSpace(a))
	}
	return b.String()
}

// mediaType names the media of a message the way wire.PostStats does;
// ingest/tgweb uses the same names.
func mediaType(m tg.MessageMediaClass) string {
	switch m := m.(type) {
	case nil, *tg.MessageMediaEmpty:
		return ""
	case *tg.MessageMediaPhoto:
		return "photo"
	case *tg.MessageMediaDocument:
		doc, ok := m.Document.(*tg.Document)
		if !ok {
			return "document"
		}
		kind := "document"
		for _, a := range doc.Attributes {
			switch a := a.(type) {
			case *tg.DocumentAttributeVideo:
				if a.RoundMessage {
					return "video_note"
				}
				kind = "video"
			case *tg.DocumentAttributeAudio:
				if a.Voice {
					return "voice"
				}
				return "audio"
			case *tg.DocumentAttributeSticker:
				return "sticker"
			case *tg.DocumentAttributeAnimated:
				return "animation"
			}
		}
		return kind
	case *tg.MessageMediaPoll:
		return "poll"
	case *tg.MessageMediaWebPage:
		return "webpage"
	case *tg.MessageMediaGeo, *tg.MessageMediaGeoLive, *tg.MessageMediaVenue:
		return "location"
	case *tg.MessageMediaContact:
		return "contact"
	}
	return "other"
}
