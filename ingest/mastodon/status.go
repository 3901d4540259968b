package mastodon

import (
	"net/url"
	"strings"
)

// account and status hold the fields of the API's entities the collector
// reads; JSON nulls leave them empty.
type account struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	Acct        string `json:"acct"`
	DisplayName string `json:"display_name"`
	URL         string `json:"url"`
}

type status struct {
	ID          string  `json:"id"`
	CreatedAt   string  `json:"created_at"`
	InReplyToID string  `json:"in_reply_to_id"`
	Visibility  string  `json:"visibility"`
	Language    string  `json:"language"`
	URI         string  `json:"uri"`
	URL         string  `json:"url"`
	Content     string  `json:"content"`
	EditedAt    string  `json:"edited_at"`
	Reblog      *status `json:"reblog"`
	Account     account `json:"account"`
	// Quote is Mastodon 4.5's quote post: the quoted status when accepted.
	Quote *struct {
		State        string  `json:"state"`
		QuotedStatus *status `json:"quoted_status"`
	} `json:"quote"`
}

// valid says whether a status carries what a raw item needs.
func (s *status) valid() bool {
	return validID(s.ID) && s.URI != "" && s.Account.Acct != ""
}

// public says whether a status may be published: public and unlisted
// posts are; followers-only, direct and unknown visibilities never are.
func (s *status) public() bool {
	return s.Visibility == "public" || s.Visibility == "unlisted"
}

// postURL is the status's web page. A boost has none of its own (its url
// is the ActivityPub activity), so it gets <account url>/<id>, which
// Mastodon redirects to the boosted post.
func (s *status) postURL() string {
	if s.Reblog == nil && s.URL != "" {
		return s.URL
	}
	if s.Account.URL != "" {
		return strings.TrimSuffix(s.Account.URL, "/") + "/" + s.ID
	}
	return s.URI
}

// fullAcct is user@host: a local account's acct lacks the host, which is
// the instance's.
func fullAcct(acct, instance string) string {
	acct = strings.ToLower(strings.TrimPrefix(acct, "@"))
	if acct == "" || strings.Contains(acct, "@") {
		return acct
	}
	if u, err := url.Parse(instance); err == nil && u.Host != "" {
		return acct + "@" + strings.ToLower(u.Host)
	}
	return acct
}

func validID(s string) bool {
	if s == "" || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// idLess orders Mastodon's decimal ids as numbers.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
