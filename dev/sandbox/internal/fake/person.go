package fake

import "strings"

// StaffDomain is the e-mail domain of the company whose mesh this is: the people
// who work there use the same address in every internal tool (Jira, GitHub,
// Looker), so their records join on person_gid across sources.
const StaffDomain = "acme.example"

// Person is one of the company's staff as several vendors know them.
type Person struct {
	Name  string // display name, "Ana Silva"
	Email string // canonical address: see StaffEmail
	Team  string // where the vendor that derives them found them (a GitHub team, "jira"); "" when none
}

// StaffEmail is the company's address of a person: first.last@acme.example in
// lower-case ASCII ("Ines Müller" → "ines.muller@acme.example"), as Jira and
// GitHub spell it.
func StaffEmail(first, last string) string {
	return ASCII(first) + "." + ASCII(last) + "@" + StaffDomain
}

// ASCII makes a name usable in an e-mail local part or a login: lower case,
// without apostrophes, spaces or umlauts.
func ASCII(s string) string {
	return strings.NewReplacer("ü", "u", "'", "", " ", "").Replace(strings.ToLower(s))
}
