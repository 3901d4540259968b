package config

// TgwebOptions are the options of a tgweb source beyond TelegramOptions.
//
//   - {id: nikkeiasia, kind: tgweb, channel: "@NikkeiAsia", max_pages: 5}
type TgwebOptions struct {
	// MaxPages bounds how many preview pages (about 20 posts each) one
	// poll reads back towards the last seen post.
	MaxPages int `yaml:"max_pages"`
}

// checkTgweb validates the options of a tgweb source.
func checkTgweb(s *Source, add func(sub, format string, args ...any)) {
	checkTelegramSource(s, add)
	if s.MaxPages < 0 || s.MaxPages > 100 {
		add(".max_pages", "must be within 0..100")
	}
	// The preview is checked for deleted posts on every fetch anyway.
	if s.Recheck != 0 {
		add(".recheck", "applies to kind telegram only")
	}
	if s.RecheckInterval != 0 {
		add(".recheck_interval", "applies to kind telegram only")
	}
}
