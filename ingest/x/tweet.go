package x

import (
	"strconv"
	"strings"
	"time"
)

// The fields and expansions every timeline, list and search request asks for.
const (
	tweetFields = "created_at,lang,referenced_tweets,entities,author_id,note_tweet"
	expansions  = "referenced_tweets.id,author_id,referenced_tweets.id.author_id"
	userFields  = "username,name"
)

// page is one answer of a tweets endpoint (timeline, list, search).
type page struct {
	Data     []tweet  `json:"data"`
	Includes includes `json:"includes"`
	Meta     struct {
		ResultCount int    `json:"result_count"`
		NewestID    string `json:"newest_id"`
		NextToken   string `json:"next_token"`
	} `json:"meta"`
	// Errors lists partial errors (a referenced tweet deleted, a user
	// suspended) next to the data.
	Errors []problem `json:"errors"`
}

type includes struct {
	Users  []user  `json:"users"`
	Tweets []tweet `json:"tweets"`
}

type user struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

type tweet struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	AuthorID  string    `json:"author_id"`
	CreatedAt string    `json:"created_at"`
	Lang      string    `json:"lang"`
	Entities  *entities `json:"entities"`
	// NoteTweet holds the whole text of a post longer than 280
	// characters; Text is then cut short.
	NoteTweet *struct {
		Text     string    `json:"text"`
		Entities *entities `json:"entities"`
	} `json:"note_tweet"`
	Referenced []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
}

type entities struct {
	URLs []struct {
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
	} `json:"urls"`
}

// userAnswer is the answer of a user lookup.
type userAnswer struct {
	Data   *user     `json:"data"`
	Errors []problem `json:"errors"`
}

// fullText is a tweet's whole text: the note tweet's when there is one,
// with t.co links replaced by the links their authors wrote, and the
// three characters X escapes (&, <, >) given back.
func (t *tweet) fullText() string {
	text, ents := t.Text, t.Entities
	if n := t.NoteTweet; n != nil && strings.TrimSpace(n.Text) != "" {
		text, ents = n.Text, n.Entities
	}
	if ents != nil {
		pairs := make([]string, 0, 2*len(ents.URLs))
		for _, u := range ents.URLs {
			if u.URL != "" && u.ExpandedURL != "" {
				pairs = append(pairs, u.URL, u.ExpandedURL)
			}
		}
		if len(pairs) > 0 {
			text = strings.NewReplacer(pairs...).Replace(text)
		}
	}
	return unescape.Replace(text)
}

// X escapes exactly these in tweet text; any other "&…;" is the author's.
var unescape = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// ref returns the id a tweet references with the given type.
func (t *tweet) ref(typ string) string {
	for _, r := range t.Referenced {
		if r.Type == typ {
			return r.ID
		}
	}
	return ""
}

// declaredLang is the tweet's language tag, or "" for X's non-language
// codes: und (undetermined), zxx (no text), qme/qam/qht/qst/qct (media,
// mentions, hashtags only, …). X still writes the withdrawn ISO 639 codes
// in (Indonesian), iw (Hebrew) and ji (Yiddish); they become id, he, yi.
func declaredLang(tag string) string {
	if tag == "" || tag == "und" || tag == "zxx" || strings.HasPrefix(tag, "q") {
		return ""
	}
	switch tag {
	case "in":
		return "id"
	case "iw":
		return "he"
	case "ji":
		return "yi"
	}
	return tag
}

// idLess orders tweet ids, decimal numbers of up to 19 digits, as numbers.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// validID says whether s is a tweet or user id: 1 to 20 decimal digits.
func validID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PostURL is the canonical link of a post.
func PostURL(username, id string) string {
	if username == "" {
		username = "i"
	}
	return "https://x.com/" + username + "/status/" + id
}

// searchWindow is how far back recent search reaches (7 days), less a
// margin for clocks.
const searchWindow = 7*24*time.Hour - 10*time.Minute

// snowflakeTime is when X made a post id: ids since 2010 are snowflakes,
// milliseconds since X's epoch (1288834974657) shifted left by 22 bits.
func snowflakeTime(id string) (time.Time, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n < 1<<22 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(n>>22) + 1288834974657).UTC(), true
}
