package synth

// stopwords are function words of the languages the wire carries most;
// they say nothing about which story an entry belongs to. Tokens shorter
// than two runes are dropped separately.
var stopwords = func() map[string]bool {
	m := make(map[string]bool)
	for _, list := range [][]string{
		// English
		{"the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "by", "from",
			"as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these",
			"those", "he", "she", "they", "we", "you", "his", "her", "their", "our", "your", "has", "have",
			"had", "do", "does", "did", "not", "no", "will", "would", "can", "could", "should", "may",
			"might", "about", "after", "before", "over", "under", "into", "out", "up", "down", "than",
			"then", "so", "if", "new", "says", "said", "say", "more", "most", "who", "what", "when", "where",
			"why", "how", "which", "all", "also", "just", "us", "via", "amid", "against", "off", "now",
			"here", "there", "first", "one", "two", "get", "gets", "report", "reports", "news", "video",
			"update", "updated", "live", "s", "t", "vs",
			"breaking", "developing", "exclusive", "urgent"},
		// Russian
		{"и", "в", "во", "не", "что", "он", "на", "я", "с", "со", "как", "а", "то", "все", "она", "так",
			"его", "но", "да", "ты", "к", "у", "же", "вы", "за", "бы", "по", "только", "ее", "мне", "было",
			"вот", "от", "меня", "еще", "нет", "о", "из", "ему", "теперь", "когда", "даже", "ну", "ли",
			"если", "уже", "или", "ни", "быть", "был", "него", "до", "вас", "нибудь", "опять", "уж", "вам",
			"ведь", "там", "потом", "себя", "ничего", "ей", "может", "они", "тут", "где", "есть", "надо",
			"ней", "для", "мы", "тебя", "их", "чем", "была", "сам", "чтоб", "без", "будто", "чего", "раз",
			"тоже", "себе", "под", "будет", "ж", "тогда", "кто", "этот", "того", "потому", "этого", "какой",
			"совсем", "ним", "здесь", "этом", "один", "почти", "мой", "тем", "чтобы", "нее", "были", "куда",
			"зачем", "всех", "никогда", "можно", "при", "наконец", "два", "об", "другой", "хоть", "после",
			"над", "больше", "тот", "через", "эти", "нас", "про", "всего", "них", "какая", "много", "разве",
			"три", "эту", "моя", "впрочем", "хорошо", "свою", "этой", "перед", "иногда", "лучше", "чуть",
			"том", "нельзя", "такой", "им", "более", "всегда", "конечно", "всю", "между", "это", "также"},
		// Calendar words: every story has a date, so they tie unrelated
		// stories together ("Stock market news for March 10").
		{"january", "february", "march", "april", "june", "july", "august", "september", "october",
			"november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
			"nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
			"today", "tonight", "yesterday", "tomorrow", "week", "morning",
			"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
			"октября", "ноября", "декабря", "понедельник", "вторник", "среду", "четверг", "пятницу",
			"субботу", "воскресенье", "сегодня", "вчера", "завтра"},
		// German, French, Spanish (common wire languages)
		{"der", "die", "das", "und", "ist", "im", "den", "von", "zu", "mit", "sich", "des", "auf", "für",
			"le", "la", "les", "de", "du", "des", "et", "en", "un", "une", "est", "pour", "dans", "sur", "au",
			"el", "los", "las", "y", "que", "del", "se", "por", "con", "para", "una", "su"},
	} {
		for _, w := range list {
			m[w] = true
		}
	}
	return m
}()
