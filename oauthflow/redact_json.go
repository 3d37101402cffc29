package oauthflow

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WithoutSecrets is pasted integration JSON as a refused import shows it
// again: with the value of every member named client_secret blanked to "",
// whatever its type, and of every other member with "secret" in its name
// whose value is a string, object or array (client_secret_set stays a
// boolean), since Airlock never sends a secret back to the browser. The rest
// is kept byte for byte, so the person fixes the JSON rather than retyping it.
//
// A name counts however the JSON spells it: escapes decoded (client\u005fsecret)
// and case folded as encoding/json folds it (CLIENT_SECRET, client_ſecret);
// every such member is blanked, so a duplicated key hides nothing. The scan
// does not need valid JSON: a value is blanked whatever its type, to the end
// of its string or brackets, and to the end of the text when they never end;
// a name followed by a value without the colon counts too. Only in text that
// is not JSON can stray quotes hide a name from the scan: there, a "secret"
// left anywhere in what would be shown withholds the whole text ("").
func WithoutSecrets(text string) string {
	shown, rest := blankSecrets(text)
	if strings.Contains(foldCase(unescapeLenient(rest)), foldCase("secret")) && !json.Valid([]byte(text)) {
		return ""
	}
	return shown
}

// blankSecrets returns text with the secrets' values blanked, and what is
// left when the secrets' names are taken out too.
func blankSecrets(text string) (shown, rest string) {
	var out, left strings.Builder
	i := 0
	for {
		j := strings.IndexByte(text[i:], '"')
		if j < 0 {
			out.WriteString(text[i:])
			left.WriteString(text[i:])
			return out.String(), left.String()
		}
		j += i
		end := stringEnd(text, j)
		out.WriteString(text[i:end])
		if end == len(text) || !secretName(text[j:end]) {
			left.WriteString(text[i:end])
			i = end
			continue
		}
		left.WriteString(text[i:j])
		// The name is a secret's: keep what separates it from the value, blank the value.
		v := skipSpace(text, end)
		if v < len(text) && text[v] == ':' {
			v = skipSpace(text, v+1)
		}
		if v == len(text) || strings.IndexByte(",}]", text[v]) >= 0 {
			i = end // a value that reads as a secret's name ("name": "client_secret"), not a member name
			continue
		}
		if !exactSecretName(text[j:end]) && strings.IndexByte(`"{[`, text[v]) < 0 {
			i = end // client_secret_set: true is no secret, and must stay a boolean
			continue
		}
		out.WriteString(text[end:v])
		out.WriteString(`""`)
		i = valueEnd(text, v)
	}
}

// stringEnd is the index after the string literal opening at text[start]
// (a quote), or len(text) when it never closes.
func stringEnd(text string, start int) int {
	for k := start + 1; k < len(text); k++ {
		switch text[k] {
		case '\\':
			k++
		case '"':
			return k + 1
		}
	}
	return len(text)
}

func skipSpace(text string, i int) int {
	for i < len(text) && strings.IndexByte(" \t\r\n", text[i]) >= 0 {
		i++
	}
	return i
}

// valueEnd is the index after the JSON value starting at text[v]: a string,
// an object or array (brackets counted outside strings), or anything else up
// to the next comma, bracket or line break; len(text) when it never ends.
func valueEnd(text string, v int) int {
	switch text[v] {
	case '"':
		return stringEnd(text, v)
	case '{', '[':
		depth := 0
		for k := v; k < len(text); k++ {
			switch text[k] {
			case '"':
				k = stringEnd(text, k) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return k + 1
				}
			}
		}
		return len(text)
	}
	k := v
	for k < len(text) && strings.IndexByte(",}]\r\n", text[k]) < 0 {
		k++
	}
	return k
}

// secretName reports whether a string literal (with its quotes, perhaps
// unterminated) names a secret: "secret" inside it, escapes decoded and case
// folded.
func secretName(lit string) bool {
	return strings.Contains(foldCase(unescapeLenient(lit)), foldCase("secret"))
}

// exactSecretName reports whether a string literal is a name encoding/json
// reads as the client_secret field.
func exactSecretName(lit string) bool {
	return foldCase(unescapeLenient(lit)) == foldCase("client_secret")
}

// unescapeLenient decodes the escapes of a JSON string literal, tolerating
// broken ones (kept as they are), without the quotes.
func unescapeLenient(lit string) string {
	lit = strings.TrimPrefix(lit, `"`)
	lit = strings.TrimSuffix(lit, `"`)
	var b strings.Builder
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' || i+1 == len(lit) {
			b.WriteByte(lit[i])
			continue
		}
		i++
		if lit[i] == 'u' && i+4 < len(lit) {
			if n, err := strconv.ParseUint(lit[i+1:i+5], 16, 16); err == nil {
				b.WriteRune(rune(n))
				i += 4
				continue
			}
		}
		b.WriteByte(lit[i]) // \" \\ \/ and the letters of \n \t … (harmless here)
	}
	return b.String()
}

// foldCase maps each rune to the smallest rune of its simple case-folding
// orbit, so two strings encoding/json would match as names fold alike
// ("S", "s" and "ſ" all become "S").
func foldCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}
