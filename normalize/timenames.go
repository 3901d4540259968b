package normalize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// dateNames are the month and weekday names ParseTime reads, per language:
// the languages of DefaultLanguages. Each month lists its full names
// (nominative and, where the language has one, genitive: "3 декабря")
// and the abbreviations feeds use; trailing dots need not be listed, as
// dots separate tokens, and case and Latin diacritics are folded
// (foldName), so "déc", "DEC" and "dec" are one key. Written for this
// package from the CLDR month and day names as feeds print them.
//
// Calendars other than the Gregorian (the Solar Hijri months of Persian
// sites, the Hijri months of some Arabic ones) are not listed: a date in
// them is refused rather than misread.
var dateNames = []struct {
	lang   string
	months [12]string // space-separated names of each month
	days   [7]string  // Monday first
}{
	{"en",
		[12]string{"january jan", "february feb", "march mar", "april apr", "may", "june jun", "july jul", "august aug", "september sep sept", "october oct", "november nov", "december dec"},
		[7]string{"monday mon", "tuesday tue tues", "wednesday wed", "thursday thu thur thurs", "friday fri", "saturday sat", "sunday sun"}},
	{"ru",
		[12]string{"январь января янв", "февраль февраля фев февр", "март марта мар", "апрель апреля апр", "май мая", "июнь июня июн", "июль июля июл", "август августа авг", "сентябрь сентября сен сент", "октябрь октября окт", "ноябрь ноября ноя нояб", "декабрь декабря дек"},
		[7]string{"понедельник пн", "вторник вт", "среда ср", "четверг чт", "пятница пт", "суббота сб", "воскресенье вс"}},
	{"uk",
		[12]string{"січень січня січ", "лютий лютого лют", "березень березня бер", "квітень квітня квіт кві", "травень травня трав тра", "червень червня черв чер", "липень липня лип", "серпень серпня серп сер", "вересень вересня вер", "жовтень жовтня жовт жов", "листопад листопада лист лис", "грудень грудня груд гру"},
		[7]string{"понеділок пн", "вівторок вт", "середа ср", "четвер чт", "пʼятниця пт", "субота сб", "неділя нд"}},
	{"be",
		[12]string{"студзень студзеня студ", "люты лютага лют", "сакавік сакавіка сак", "красавік красавіка крас", "май мая", "чэрвень чэрвеня чэрв", "ліпень ліпеня ліп", "жнівень жніўня жнів", "верасень верасня вер", "кастрычнік кастрычніка каст", "лістапад лістапада ліст", "снежань снежня снеж"},
		[7]string{"панядзелак пн", "аўторак аўт", "серада ср", "чацвер чц", "пятніца пт", "субота сб", "нядзеля нд"}},
	{"bg",
		[12]string{"януари яну", "февруари фев", "март мар", "април апр", "май", "юни", "юли", "август авг", "септември сеп", "октомври окт", "ноември ное", "декември дек"},
		[7]string{"понеделник пон", "вторник вт", "сряда ср", "четвъртък чет", "петък пет", "събота съб", "неделя нед"}},
	{"sr", // Cyrillic and Latin
		[12]string{"јануар јан januar", "фебруар феб februar", "март мар mart", "април апр april", "мај maj", "јун jun", "јул jul", "август авг avgust avg", "септембар сеп septembar", "октобар окт oktobar", "новембар нов novembar", "децембар дец decembar"},
		[7]string{"понедељак пон ponedeljak", "уторак уто utorak", "среда сре sreda", "четвртак чет četvrtak", "петак пет petak", "субота суб subota", "недеља нед nedelja"}},
	{"kk",
		[12]string{"қаңтар", "ақпан", "наурыз", "сәуір", "мамыр", "маусым", "шілде", "тамыз", "қыркүйек", "қазан", "қараша", "желтоқсан"},
		[7]string{"дүйсенбі", "сейсенбі", "сәрсенбі", "бейсенбі", "жұма", "сенбі", "жексенбі"}},
	{"fr",
		[12]string{"janvier janv", "février févr fév", "mars", "avril avr", "mai", "juin", "juillet juil", "août aout", "septembre sept", "octobre oct", "novembre nov", "décembre déc"},
		[7]string{"lundi lun", "mardi mar", "mercredi mer", "jeudi jeu", "vendredi ven", "samedi sam", "dimanche dim"}},
	{"de",
		[12]string{"januar jan jänner", "februar feb", "märz mär mrz", "april apr", "mai", "juni jun", "juli jul", "august aug", "september sep sept", "oktober okt", "november nov", "dezember dez"},
		[7]string{"montag mo", "dienstag di", "mittwoch mi", "donnerstag do", "freitag fr", "samstag sa sonnabend", "sonntag so"}},
	{"es",
		[12]string{"enero ene", "febrero feb", "marzo mar", "abril abr", "mayo may", "junio jun", "julio jul", "agosto ago", "septiembre setiembre sep sept set", "octubre oct", "noviembre nov", "diciembre dic"},
		[7]string{"lunes lun", "martes mar", "miércoles mié", "jueves jue", "viernes vie", "sábado sáb", "domingo dom"}},
	{"pt",
		[12]string{"janeiro jan", "fevereiro fev", "março mar", "abril abr", "maio mai", "junho jun", "julho jul", "agosto ago", "setembro set", "outubro out", "novembro nov", "dezembro dez"},
		[7]string{"segunda seg", "terça ter", "quarta qua", "quinta qui", "sexta sex", "sábado sáb", "domingo dom"}},
	{"it",
		[12]string{"gennaio gen", "febbraio feb", "marzo mar", "aprile apr", "maggio mag", "giugno giu", "luglio lug", "agosto ago", "settembre set", "ottobre ott", "novembre nov", "dicembre dic"},
		[7]string{"lunedì lun", "martedì mar", "mercoledì mer", "giovedì gio", "venerdì ven", "sabato sab", "domenica dom"}},
	{"nl",
		[12]string{"januari jan", "februari feb", "maart mrt", "april apr", "mei", "juni jun", "juli jul", "augustus aug", "september sep sept", "oktober okt", "november nov", "december dec"},
		[7]string{"maandag ma", "dinsdag di", "woensdag wo", "donderdag do", "vrijdag vr", "zaterdag za", "zondag zo"}},
	{"pl",
		[12]string{"styczeń stycznia sty", "luty lutego lut", "marzec marca mar", "kwiecień kwietnia kwi", "maj maja", "czerwiec czerwca cze", "lipiec lipca lip", "sierpień sierpnia sie", "wrzesień września wrz", "październik października paź", "listopad listopada lis", "grudzień grudnia gru"},
		[7]string{"poniedziałek pon pn", "wtorek wt", "środa śr", "czwartek czw", "piątek pt", "sobota sob", "niedziela niedz nd"}},
	{"tr",
		[12]string{"ocak oca", "şubat şub", "mart mar", "nisan nis", "mayıs may", "haziran haz", "temmuz tem", "ağustos ağu", "eylül eyl", "ekim eki", "kasım kas", "aralık ara"},
		[7]string{"pazartesi pzt", "salı sal", "çarşamba çar", "perşembe per", "cuma cum", "cumartesi cmt", "pazar paz"}},
	{"ar", // the Egyptian/Gulf names and the Levantine ones
		[12]string{"يناير كانون_الثاني", "فبراير شباط", "مارس آذار", "أبريل إبريل نيسان", "مايو أيار", "يونيو يونيه حزيران", "يوليو يوليه تموز", "أغسطس آب", "سبتمبر أيلول", "أكتوبر تشرين_الأول", "نوفمبر تشرين_الثاني", "ديسمبر كانون_الأول"},
		[7]string{"الاثنين الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"}},
	{"fa", // Gregorian months as Persian sites write them
		[12]string{"ژانویه ژانویهٔ", "فوریه", "مارس", "آوریل", "مه می", "ژوئن", "ژوئیه ژوییه", "اوت آگوست", "سپتامبر", "اکتبر", "نوامبر", "دسامبر"},
		[7]string{"دوشنبه", "سه‌شنبه", "چهارشنبه", "پنجشنبه پنج‌شنبه", "جمعه", "شنبه", "یکشنبه یک‌شنبه"}},
	{"ur",
		[12]string{"جنوری", "فروری", "مارچ", "اپریل", "مئی", "جون", "جولائی", "اگست", "ستمبر", "اکتوبر", "نومبر", "دسمبر"},
		[7]string{"پیر سوموار", "منگل", "بدھ", "جمعرات", "جمعہ", "ہفتہ", "اتوار"}},
	{"he", // also with the prefix ב ("בדצמבר"), see monthOf
		[12]string{"ינואר", "פברואר", "מרץ מרס", "אפריל", "מאי", "יוני", "יולי", "אוגוסט", "ספטמבר", "אוקטובר", "נובמבר", "דצמבר"},
		[7]string{"ראשון", "שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת"}},
	{"hi",
		[12]string{"जनवरी", "फ़रवरी फरवरी", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अगस्त", "सितंबर सितम्बर", "अक्टूबर अक्तूबर", "नवंबर नवम्बर", "दिसंबर दिसम्बर"},
		[7]string{"सोमवार", "मंगलवार", "बुधवार", "गुरुवार", "शुक्रवार", "शनिवार", "रविवार"}},
	{"sw",
		[12]string{"januari", "februari", "machi", "aprili", "mei", "juni", "julai", "agosti", "septemba", "oktoba", "novemba", "desemba"},
		[7]string{"jumatatu", "jumanne", "jumatano", "alhamisi", "ijumaa", "jumamosi", "jumapili"}},
	{"id",
		[12]string{"januari jan", "februari feb pebruari", "maret mar", "april apr", "mei", "juni jun", "juli jul", "agustus agu agt ags", "september sep", "oktober okt", "november nov nop", "desember des"},
		[7]string{"senin sen", "selasa sel", "rabu rab", "kamis kam", "jumat jum jum'at", "sabtu sab", "minggu min ahad"}},
	// zh, ja and ko write dates with unit signs (2018年12月3日, 2018년 12월
	// 3일), read by ParseTime itself; their weekdays are below.
	{"ko", [12]string{}, [7]string{"월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"}},
}

// The two-word month names of the Levantine Arabic calendar are written
// with "_" above; the parser joins a word with the next one to look them up.
const nameJoiner = "_"

// cjkIgnored are Han characters of weekday names and of times of day
// (星期一, 周一, (月)曜日, 午前), which say nothing ParseTime needs;
// the ones that do (年月日時分秒, 下午/午後) are read by ParseTime.
const cjkIgnored = "星期周曜一二三四五六七天上前午"

// Languages with month names in dateNames, for the README and tests.
func dateNameLanguages() []string {
	out := make([]string, 0, len(dateNames)+2)
	for _, l := range dateNames {
		out = append(out, l.lang)
	}
	return append(out, "zh", "ja")
}

var (
	// monthNames maps folded names to months 1–12; ambiguousNames holds
	// the generated abbreviations two months share ("jui": juin, juillet),
	// which are left out.
	monthNames   = map[string]int{}
	weekdayNames = map[string]bool{}
	// nameConflicts lists listed names that mean different months in two
	// languages; a test keeps it empty.
	nameConflicts []string
)

func init() {
	generated := map[string]int{}
	ambiguous := map[string]bool{}
	for _, l := range dateNames {
		for m, names := range l.months {
			for _, n := range strings.Fields(names) {
				k := foldName(n)
				if old, ok := monthNames[k]; ok && old != m+1 {
					nameConflicts = append(nameConflicts, l.lang+":"+n)
				}
				monthNames[k] = m + 1
				for _, p := range namePrefixes(k) {
					if old, ok := generated[p]; ok && old != m+1 {
						ambiguous[p] = true
					}
					generated[p] = m + 1
				}
			}
		}
		for _, names := range l.days {
			for _, n := range strings.Fields(names) {
				k := foldName(n)
				weekdayNames[k] = true
				for _, p := range namePrefixes(k) {
					weekdayNames[p] = true
				}
			}
		}
	}
	for p, m := range generated {
		if _, listed := monthNames[p]; !listed && !ambiguous[p] {
			monthNames[p] = m
		}
	}
}

// namePrefixes are the 3- and 4-letter abbreviations of a Latin or
// Cyrillic name that feeds cut without listing them ("Sept", "Сент",
// "Paźd").
func namePrefixes(k string) []string {
	r, _ := utf8.DecodeRuneInString(k)
	if !unicode.In(r, unicode.Latin, unicode.Cyrillic) || strings.Contains(k, nameJoiner) {
		return nil
	}
	var out []string
	n := 0
	for i := range k {
		if n == 3 || n == 4 {
			out = append(out, k[:i])
		}
		n++
	}
	return out
}

// latinFold strips the diacritics of the letters month and day names use,
// so that "dec" finds "déc", and folds Turkish dotless i and the Arabic
// and Persian spellings of one letter.
var latinFold = map[rune]rune{
	'à': 'a', 'á': 'a', 'â': 'a', 'ã': 'a', 'ä': 'a', 'å': 'a', 'ą': 'a',
	'ç': 'c', 'ć': 'c', 'č': 'c', 'đ': 'd',
	'è': 'e', 'é': 'e', 'ê': 'e', 'ë': 'e', 'ę': 'e',
	'ì': 'i', 'í': 'i', 'î': 'i', 'ï': 'i', 'ı': 'i', 'ğ': 'g', 'ł': 'l',
	'ñ': 'n', 'ń': 'n', 'ò': 'o', 'ó': 'o', 'ô': 'o', 'õ': 'o', 'ö': 'o',
	'ś': 's', 'ş': 's', 'š': 's', 'ù': 'u', 'ú': 'u', 'û': 'u', 'ü': 'u',
	'ź': 'z', 'ż': 'z', 'ž': 'z',
	'أ': 'ا', 'إ': 'ا', 'آ': 'ا', 'ى': 'ي', 'ی': 'ي', 'ك': 'ک', 'ۀ': 'ه', 'ە': 'ه',
}

// foldName is the key of a month or day name: lower case, Latin
// diacritics, apostrophes, combining marks of Latin letters and
// zero-width joiners gone, Arabic letter variants folded.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '\'', '’', 'ʼ', '\u200c', '\u200d', '\u0307', '\u0654', '.':
			continue
		case 'İ':
			r = 'i'
		}
		r = unicode.ToLower(r)
		if f, ok := latinFold[r]; ok {
			r = f
		}
		b.WriteRune(r)
	}
	return b.String()
}

// monthOf looks a folded word up as a month, also with the Hebrew prefix
// ב ("in"), which dates write joined to the month ("3 בדצמבר 2018").
func monthOf(w string) (int, bool) {
	if m, ok := monthNames[w]; ok {
		return m, true
	}
	if rest, ok := strings.CutPrefix(w, "ב"); ok {
		m, ok := monthNames[rest]
		return m, ok
	}
	return 0, false
}
