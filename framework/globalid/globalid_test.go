package globalid_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/meshflow/meshflow/framework/globalid"
	"github.com/meshflow/meshflow/framework/transform"
)

// domains are inputs as sources hold them, with the web domain they normalise to
// ("" = none).
var domains = []struct{ in, want string }{
	{"acme.example", "acme.example"},
	{"www.acme.example", "acme.example"},
	{"WWW.ACME.EXAMPLE", "acme.example"},
	{"Acme.Example", "acme.example"},
	{"https://acme.example", "acme.example"},
	{"https://www.acme.example/", "acme.example"},
	{"http://acme.example/", "acme.example"},
	{"HTTPS://WWW.Nimbus-Labs.example/about", "nimbus-labs.example"},
	{"https://acme.example:8443/pricing?utm=x#top", "acme.example"},
	{"acme.example:8080", "acme.example"},
	{"acme.example/careers", "acme.example"},
	{"acme.example.", "acme.example"},
	{"//acme.example/x", "acme.example"},
	{"https://user:secret@www.acme.example/", "acme.example"},
	{"www.www.acme.example", "acme.example"},
	{"  acme.example \t\n", "acme.example"},
	{"app.acme.example", "app.acme.example"}, // subdomains other than www are kept
	{"https://eu.app.acme.example/login", "eu.app.acme.example"},
	{"www2.acme.example", "www2.acme.example"},
	{"wwwacme.example", "wwwacme.example"},
	{"acme.co.uk", "acme.co.uk"},
	{"", ""},
	{"   ", ""},
	{"n/a", ""},
	{"localhost", ""},
	{"https://", ""},
	{"www.", ""},
	{"acme .example", ""},
	{"acme\n.example", ""},
	{"exämple.com", ""},                   // non-ASCII: no guess at its punycode
	{"\u212Acme.example", "kcme.example"}, // letters whose lower case is ASCII: Go and DuckDB agree
	{"\u0130cme.example", "icme.example"},
	{"ftp://files.acme.example", "files.acme.example"},
	{"info@acme.example", "acme.example"}, // read as user info: an address typed as a website names its domain
	{"mailto:info@acme.example", "acme.example"},
}

var emails = []struct{ in, want string }{
	{"jane.doe@acme.example", "jane.doe@acme.example"},
	{"  Jane.Doe@Acme.Example ", "jane.doe@acme.example"},
	{"JANE+news@ACME.EXAMPLE\t", "jane+news@acme.example"},
	{"o'brien@acme.co.uk", "o'brien@acme.co.uk"},
	{"jane.doe@mail.acme.example", "jane.doe@mail.acme.example"},
	{"", ""},
	{"   ", ""},
	{"jane.doe", ""},
	{"jane@localhost", ""},
	{"jane doe@acme.example", ""},
	{"jane@@acme.example", ""},
	{"@acme.example", ""},
	{"jane@acme.example.", ""},
}

func TestWebDomain(t *testing.T) {
	for _, c := range domains {
		if got := globalid.WebDomain(c.in); got != c.want {
			t.Errorf("WebDomain(%q) = %q, want %q", c.in, got, c.want)
		}
		// Normalising is idempotent, so a port may feed web_domain back in.
		if got := globalid.WebDomain(globalid.WebDomain(c.in)); got != c.want {
			t.Errorf("WebDomain(WebDomain(%q)) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestEmailAddress(t *testing.T) {
	for _, c := range emails {
		if got := globalid.EmailAddress(c.in); got != c.want {
			t.Errorf("EmailAddress(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestGlobalIDs(t *testing.T) {
	// Pinned (sha256 of the normalised key, as `printf acme.example | sha256sum` gives):
	// an id that changed would break every join on it and every stored mapping.
	gid := globalid.CompanyGID("acme.example")
	if gid != "co_54667cc7be6265f6a4cd" {
		t.Fatalf("CompanyGID(acme.example) = %q, want co_54667cc7be6265f6a4cd", gid)
	}
	for _, spelling := range []string{"https://www.Acme.example/", "ACME.EXAMPLE", "acme.example:443"} {
		if got := globalid.CompanyGID(spelling); got != gid {
			t.Errorf("CompanyGID(%q) = %q, want %q like acme.example", spelling, got, gid)
		}
	}
	if got := globalid.CompanyGID("app.acme.example"); got == gid || got == "" {
		t.Errorf("CompanyGID(app.acme.example) = %q: a subdomain is another company's id", got)
	}
	if got := globalid.CompanyGID("n/a"); got != "" {
		t.Errorf("CompanyGID(n/a) = %q, want none", got)
	}
	if got := globalid.PersonGID(" Jane.Doe@Acme.example"); got != "pe_7f0da4d2d19e78ed57e0" {
		t.Errorf("PersonGID(Jane.Doe@Acme.example) = %q, want pe_7f0da4d2d19e78ed57e0", got)
	}
	if got := globalid.PersonGID("jane.doe"); got != "" {
		t.Errorf("PersonGID(jane.doe) = %q, want none", got)
	}
}

// The macros a model calls and the Go functions give the same answer on every input,
// NULL where Go gives "".
func TestMacrosAgreeWithGo(t *testing.T) {
	ctx := context.Background()
	db, err := transform.Open(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqlOf := func(macro, in string) string {
		t.Helper()
		var out sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT "+macro+"(?)", in).Scan(&out); err != nil {
			t.Fatalf("%s(%q): %v", macro, in, err)
		}
		if out.Valid && out.String == "" {
			t.Errorf("%s(%q) is an empty string, want NULL", macro, in)
		}
		return out.String
	}
	for _, c := range domains {
		if got, want := sqlOf("web_domain", c.in), globalid.WebDomain(c.in); got != want {
			t.Errorf("web_domain(%q) = %q in SQL, %q in Go", c.in, got, want)
		}
		if got, want := sqlOf("company_gid", c.in), globalid.CompanyGID(c.in); got != want {
			t.Errorf("company_gid(%q) = %q in SQL, %q in Go", c.in, got, want)
		}
	}
	for _, c := range emails {
		if got, want := sqlOf("email_address", c.in), globalid.EmailAddress(c.in); got != want {
			t.Errorf("email_address(%q) = %q in SQL, %q in Go", c.in, got, want)
		}
		if got, want := sqlOf("person_gid", c.in), globalid.PersonGID(c.in); got != want {
			t.Errorf("person_gid(%q) = %q in SQL, %q in Go", c.in, got, want)
		}
	}
	// NULL in, NULL out, and the macros take any type a column may have.
	var a, b, c, d sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT web_domain(NULL), company_gid(NULL), email_address(NULL), person_gid(NULL)").Scan(&a, &b, &c, &d); err != nil {
		t.Fatal(err)
	}
	if a.Valid || b.Valid || c.Valid || d.Valid {
		t.Errorf("macros of NULL = %v %v %v %v, want NULL", a, b, c, d)
	}
}
