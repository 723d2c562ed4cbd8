package query

import (
	"fmt"
	"strings"
)

// tokenKind classifies a token of the query text. The lexer knows just enough of
// DuckDB's (PostgreSQL's) lexical rules to never mistake a string, a quoted identifier
// or a comment for SQL: that is all the AS OF rewrite and the trailing-semicolon trim
// need. DuckDB's own parser decides everything else.
type tokenKind uint8

const (
	tokIdent  tokenKind = iota // unquoted identifier or keyword
	tokQIdent                  // "quoted identifier"
	tokString                  // '…', E'…', $$…$$
	tokNumber
	tokPunct
)

type token struct {
	kind       tokenKind
	text       string // the identifier's name (unquoted, unescaped) or the raw text
	start, end int    // byte offsets in the query
}

// is reports whether t is the unquoted keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

// name reports whether t can be part of a dotted name.
func (t token) name() bool { return t.kind == tokIdent || t.kind == tokQIdent }

// lex splits sql into tokens, dropping whitespace and comments.
func lex(sql string) ([]token, error) {
	var out []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case strings.HasPrefix(sql[i:], "/*"):
			// Block comments nest, as in PostgreSQL.
			depth := 0
			for i < len(sql) {
				switch {
				case strings.HasPrefix(sql[i:], "/*"):
					depth++
					i += 2
				case strings.HasPrefix(sql[i:], "*/"):
					depth--
					i += 2
				default:
					i++
				}
				if depth == 0 {
					break
				}
			}
			if depth != 0 {
				return nil, fmt.Errorf("the comment that starts at byte %d is not closed with */", start)
			}
		case c == '\'':
			end, err := quoted(sql, i, '\'', false)
			if err != nil {
				return nil, err
			}
			out = append(out, token{tokString, sql[start:end], start, end})
			i = end
		case (c == 'e' || c == 'E') && i+1 < len(sql) && sql[i+1] == '\'':
			end, err := quoted(sql, i+1, '\'', true)
			if err != nil {
				return nil, err
			}
			out = append(out, token{tokString, sql[start:end], start, end})
			i = end
		case c == '"':
			end, err := quoted(sql, i, '"', false)
			if err != nil {
				return nil, err
			}
			name := strings.ReplaceAll(sql[start+1:end-1], `""`, `"`)
			out = append(out, token{tokQIdent, name, start, end})
			i = end
		case c == '$':
			j := i + 1
			// $tag$…$tag$ or $$…$$; a tag does not start with a digit ($1 is a parameter).
			for j < len(sql) && (identStart(sql[j]) || (j > i+1 && sql[j] >= '0' && sql[j] <= '9')) {
				j++
			}
			if j < len(sql) && sql[j] == '$' {
				tag := sql[i : j+1]
				k := strings.Index(sql[j+1:], tag)
				if k < 0 {
					return nil, fmt.Errorf("the string quoted with %s at byte %d is not closed", tag, start)
				}
				i = j + 1 + k + len(tag)
				out = append(out, token{tokString, sql[start:i], start, i})
				break
			}
			i++
			for i < len(sql) && sql[i] >= '0' && sql[i] <= '9' {
				i++
			}
			out = append(out, token{tokPunct, sql[start:i], start, i})
		case c >= '0' && c <= '9':
			for i < len(sql) && (identChar(sql[i]) || sql[i] == '.') {
				i++
			}
			out = append(out, token{tokNumber, sql[start:i], start, i})
		case identStart(c):
			for i < len(sql) && identChar(sql[i]) {
				i++
			}
			out = append(out, token{tokIdent, sql[start:i], start, i})
		default:
			i++
			out = append(out, token{tokPunct, sql[start:i], start, i})
		}
	}
	return out, nil
}

// quoted returns the end of the quoted text opened at sql[i] by q; a doubled q is an
// escaped one, and so is a backslash-escaped one in an E'…' string.
func quoted(sql string, i int, q byte, backslash bool) (int, error) {
	for j := i + 1; j < len(sql); j++ {
		switch {
		case backslash && sql[j] == '\\':
			j++
		case sql[j] == q && j+1 < len(sql) && sql[j+1] == q:
			j++
		case sql[j] == q:
			return j + 1, nil
		}
	}
	what := "string"
	if q == '"' {
		what = "quoted identifier"
	}
	return 0, fmt.Errorf("the %s that starts at byte %d is not closed with %c", what, i, q)
}

func identStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func identChar(c byte) bool { return identStart(c) || (c >= '0' && c <= '9') || c == '$' }

// asOf is one `<domain>.<port> AS OF <snapshot id | 'time'>` in the query text.
type asOf struct {
	domain, port string // as written
	arg          token  // the number or the string
	start, end   int    // the byte span to replace: from the domain to the argument
}

// findAsOf finds every `name.name AS OF literal` in the tokens. AS OF followed by a
// literal is never valid DuckDB, so anything else before it is a mistake worth naming.
func findAsOf(sql string, toks []token) ([]asOf, error) {
	var out []asOf
	for i := 0; i+2 < len(toks); i++ {
		if !toks[i].is("as") || !toks[i+1].is("of") {
			continue
		}
		arg := toks[i+2]
		if arg.kind != tokNumber && arg.kind != tokString {
			continue // "x AS of" may be an alias named of; DuckDB judges
		}
		if i < 3 || !toks[i-1].name() || toks[i-2].text != "." || !toks[i-3].name() || (i >= 4 && toks[i-4].text == ".") {
			return nil, fmt.Errorf("AS OF %s must follow a port named domain.product_vN (e.g. marketing.crm_companies_v1 AS OF %s), near %q", arg.text, arg.text, excerpt(sql, toks[i].start))
		}
		out = append(out, asOf{domain: toks[i-3].text, port: toks[i-1].text, arg: arg, start: toks[i-3].start, end: arg.end})
	}
	return out, nil
}

// excerpt is a short piece of sql around byte offset at, for error messages.
func excerpt(sql string, at int) string {
	from, to := max(at-20, 0), min(at+30, len(sql))
	return strings.Join(strings.Fields(sql[from:to]), " ")
}

// trimTrailingSemicolons cuts sql before the semicolons (and anything after them but
// comments and blanks) that end it, so it can be wrapped as a subquery.
func trimTrailingSemicolons(sql string, toks []token) string {
	end := len(toks)
	for end > 0 && toks[end-1].text == ";" && toks[end-1].kind == tokPunct {
		end--
	}
	if end == len(toks) {
		return sql
	}
	return sql[:toks[end].start]
}

// splice replaces spans of sql (sorted, not overlapping) with their replacements.
func splice(sql string, spans []asOf, repl []string) string {
	var b strings.Builder
	last := 0
	for i, s := range spans {
		b.WriteString(sql[last:s.start])
		b.WriteString(repl[i])
		last = s.end
	}
	b.WriteString(sql[last:])
	return b.String()
}

// levenshtein is the edit distance between a and b, for "did you mean".
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
