// Package globalid defines the mesh's global ids, so that company_gid and person_gid
// mean the same thing in every domain's port. It holds them twice, once as DuckDB
// macros that every model can call (framework/transform registers Macros in each
// connection it opens) and once as Go functions for code and tests; the two compute
// exactly the same values (the tests compare them on a table of tricky inputs).
//
// A company's global id derives from its normalised web domain, a person's from the
// normalised e-mail address: both are stable as long as the domain or address is,
// need no lookup table, and are NULL ("" in Go) when there is nothing to derive from.
package globalid

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
)

// The patterns are RE2, which both Go's regexp and DuckDB's regexp functions
// implement, so one pattern gives one answer in both.
const (
	// hostPattern captures the host of a domain or URL that is already lower case and
	// trimmed: after an optional scheme ("https://", or "//"), user info ("user@") and
	// any number of leading "www.", up to the port, path, query or fragment.
	hostPattern = `^(?:[a-z][a-z0-9+.-]*://|//)?(?:[^@/?#]*@)?(?:www\.)*([^/?#:]*)`
	// domainPattern is what a normalised web domain looks like: at least two
	// dot-separated labels of ASCII letters, digits and hyphens. Anything else ("n/a",
	// "localhost", a bare IPv6 address, non-ASCII) gives no domain rather than a wrong one.
	domainPattern = `[a-z0-9-]+(?:\.[a-z0-9-]+)+`
	// emailPattern is what a normalised e-mail address looks like: a local part without
	// spaces or @, and a web domain.
	emailPattern = `[^@\s]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+`
	// space is what is trimmed off both ends of an input: ASCII white space, the same
	// set in Go and in DuckDB's trim(s, chars).
	space = " \t\n\r\f\v"
	// hexDigits is how many hex characters of the SHA-256 a global id keeps: 80 bits,
	// so a collision among even millions of companies is vanishingly unlikely.
	hexDigits = 20
)

// Prefixes of the global ids: they say what kind of thing an id names.
const (
	CompanyPrefix = "co_"
	PersonPrefix  = "pe_"
)

var (
	hostRE   = regexp.MustCompile(hostPattern)
	domainRE = regexp.MustCompile("^(?:" + domainPattern + ")$")
	emailRE  = regexp.MustCompile("^(?:" + emailPattern + ")$")
)

// Macros is the DuckDB SQL that defines the macros models call:
//
//	web_domain(url_or_domain)  → lower-case host without scheme, user info, www., port, path
//	                             or trailing dot; NULL when that is not a domain
//	company_gid(url_or_domain) → 'co_' + the first 20 hex digits of sha256(web_domain(…)); NULL without a domain
//	email_address(email)       → the trimmed, lower-case address; NULL when it is not one
//	person_gid(email)          → 'pe_' + the first 20 hex digits of sha256(email_address(…)); NULL without one
//
// Subdomains other than www are kept: app.acme.com is not acme.com. A pattern that
// does not match extracts an empty string, which nullif turns into NULL, so each
// input is parsed once.
var Macros = strings.Join([]string{
	`CREATE OR REPLACE MACRO web_domain(s) AS nullif(regexp_extract(rtrim(regexp_extract(` + clean + `, ` + sqlString(hostPattern) + `, 1), '.'), ` + sqlString("^("+domainPattern+")$") + `, 1), '')`,
	`CREATE OR REPLACE MACRO company_gid(s) AS '` + CompanyPrefix + `' || left(sha256(web_domain(s)), ` + strconv.Itoa(hexDigits) + `)`,
	`CREATE OR REPLACE MACRO email_address(s) AS nullif(regexp_extract(` + clean + `, ` + sqlString("^("+emailPattern+")$") + `, 1), '')`,
	`CREATE OR REPLACE MACRO person_gid(s) AS '` + PersonPrefix + `' || left(sha256(email_address(s)), ` + strconv.Itoa(hexDigits) + `)`,
}, ";\n") + ";"

// clean is the SQL of the first step of both normalisations: trimmed, lower case.
var clean = "lower(trim(CAST(s AS VARCHAR), " + sqlString(space) + "))"

// WebDomain is web_domain in Go: the normalised web domain of a domain or URL, or ""
// when it holds none.
func WebDomain(s string) string {
	s = strings.ToLower(strings.Trim(s, space))
	host := strings.TrimRight(hostRE.FindStringSubmatch(s)[1], ".") // the pattern always matches
	if !domainRE.MatchString(host) {
		return ""
	}
	return host
}

// CompanyGID is company_gid in Go: the global id of the company at a domain or URL,
// or "" when it holds no domain.
func CompanyGID(s string) string { return id(CompanyPrefix, WebDomain(s)) }

// EmailAddress is email_address in Go: the trimmed, lower-case address, or "" when s
// is not an e-mail address.
func EmailAddress(s string) string {
	s = strings.ToLower(strings.Trim(s, space))
	if !emailRE.MatchString(s) {
		return ""
	}
	return s
}

// PersonGID is person_gid in Go: the global id of the person with an e-mail address,
// or "" when s is not one.
func PersonGID(s string) string { return id(PersonPrefix, EmailAddress(s)) }

func id(prefix, key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])[:hexDigits]
}

// sqlString quotes s as a DuckDB string literal. DuckDB does not treat backslashes in
// literals as escapes, so only the quote needs doubling.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
