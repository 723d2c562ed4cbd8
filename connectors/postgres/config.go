package postgres

import (
	"cmp"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/secret"
	"github.com/meshflow/meshflow/framework/source"
)

// Names of the environment variables cmd/ and workers/ read the configuration from;
// the connector names them in errors.
const (
	HostEnv          = "POSTGRES_HOST"
	PortEnv          = "POSTGRES_PORT"
	DatabaseEnv      = "POSTGRES_DATABASE"
	UserEnv          = "POSTGRES_USER"
	PasswordEnv      = "POSTGRES_PASSWORD"
	SSLModeEnv       = "POSTGRES_SSLMODE"
	SSLRootCertEnv   = "POSTGRES_SSLROOTCERT"
	SchemaEnv        = "POSTGRES_SCHEMA"
	TablesEnv        = "POSTGRES_TABLES"
	CursorTablesEnv  = "POSTGRES_CURSOR_TABLES"
	LookbackEnv      = "POSTGRES_CURSOR_LOOKBACK"
	PublicationEnv   = "POSTGRES_PUBLICATION"
	SlotPrefixEnv    = "POSTGRES_SLOT_PREFIX"
	DefaultPort      = 5432
	DefaultSSLMode   = "verify-full"
	DefaultSchema    = "public"
	DefaultLookback  = 5 * time.Minute
	DefaultPageRows  = 10_000
	DefaultPubName   = "meshflow"
	DefaultSlotName  = "meshflow"
	maxIdentifierLen = 63 // PostgreSQL's NAMEDATALEN - 1
)

// Mode is how a table is read.
type Mode string

const (
	// CDC reads a snapshot first and then the changes through logical replication:
	// inserts, updates and deletes (as tombstones). The default.
	CDC Mode = "cdc"
	// Cursor reads the rows whose cursor column moved since the last sync, less a
	// lookback: for a read replica without logical replication. It cannot see hard
	// deletes.
	Cursor Mode = "cursor"
)

// Table is one table (or view, in cursor mode) the source reads: one stream.
type Table struct {
	Name string
	Mode Mode
	// CursorColumn orders versions in cursor mode: a timestamp, date or integer
	// column the application moves on every change (updated_at).
	CursorColumn string
	// Lookback re-reads this much before the newest cursor value seen, for rows
	// committed late with an older value (a long transaction); versions landed twice
	// are the same version. Cursor mode with a time column only [DefaultLookback].
	Lookback time.Duration
	// Fields and PrimaryKey, when declared (a domain's own database, see Declared),
	// are the columns the table must have: its spec is known without the database,
	// and a landing fails naming the table and column when one is missing or of
	// another type. Columns beyond them land too, reported as new.
	Fields     []source.Field
	PrimaryKey []string
}

// Config is what a user configures.
type Config struct {
	Host     string
	Port     int          // [DefaultPort]
	Database string       //
	User     string       // a role with SELECT on the tables and REPLICATION (see the package doc)
	Password secret.Value // from POSTGRES_PASSWORD_FILE in deployments
	// SSLMode is libpq's sslmode: disable, allow, prefer, require, verify-ca,
	// verify-full [DefaultSSLMode].
	SSLMode string
	// SSLRootCert is a PEM file of the CA that signed the server's certificate
	// (verify-ca, verify-full) [the system's roots].
	SSLRootCert string
	Schema      string // [DefaultSchema]
	Tables      []Table
	// Publication is the publication the CDC tables are in; a superuser or the
	// tables' owner creates it (CREATE PUBLICATION meshflow FOR TABLE …) [DefaultPubName].
	Publication string
	// SlotPrefix names each CDC table's replication slot, <prefix>_<table>: one slot
	// per stream, so that each stream's slot advances when its own landing commits
	// [DefaultSlotName].
	SlotPrefix string
	// PageRows is rows per snapshot chunk and per page of changes [DefaultPageRows].
	PageRows int

	source string              // the source's name in raw inputs [Connector.Name]
	env    func(string) string // the variable a declared source reads instead of a POSTGRES_ one
}

// name is the variable that sets what the generic connector's variable v sets.
func (c *Config) name(v string) string {
	if c.env == nil {
		return v
	}
	return c.env(v)
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// Validate fills defaults and refuses a configuration that cannot work, naming the
// variable to fix.
func (c *Config) Validate() error {
	const op = "configure postgres"
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.SSLMode == "" {
		c.SSLMode = DefaultSSLMode
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Publication == "" {
		c.Publication = DefaultPubName
	}
	if c.SlotPrefix == "" {
		c.SlotPrefix = DefaultSlotName
	}
	if c.PageRows <= 0 {
		c.PageRows = DefaultPageRows
	}
	switch {
	case c.Host == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: the database server's host name", c.name(HostEnv))
	case c.Database == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: the database to read", c.name(DatabaseEnv))
	case c.User == "":
		return errs.Errorf(errs.Invalid, op, "%s is not set: a role with SELECT on the tables and the REPLICATION attribute", c.name(UserEnv))
	case len(c.Tables) == 0:
		return errs.Errorf(errs.Invalid, op, "no table to read: list them in %s (change data capture) or %s (table.cursor_column)", c.name(TablesEnv), c.name(CursorTablesEnv))
	}
	switch c.SSLMode {
	case "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		return errs.Errorf(errs.Invalid, op, "%s=%q: want disable, allow, prefer, require, verify-ca or verify-full", c.name(SSLModeEnv), c.SSLMode)
	}
	for _, n := range []struct{ name, v, env string }{{"schema", c.Schema, SchemaEnv}, {"publication", c.Publication, PublicationEnv}, {"slot prefix", c.SlotPrefix, SlotPrefixEnv}} {
		if !identifier.MatchString(n.v) {
			return errs.Errorf(errs.Invalid, op, "%s=%q: a %s is a lower-case PostgreSQL identifier (letters, digits, _)", c.name(n.env), n.v, n.name)
		}
	}
	seen := map[string]bool{}
	for i := range c.Tables {
		t := &c.Tables[i]
		env := c.name(TablesEnv)
		if t.Mode == "" {
			t.Mode = CDC
		}
		if t.Mode == Cursor {
			env = c.name(CursorTablesEnv)
			if t.CursorColumn == "" {
				return errs.Errorf(errs.Invalid, op, "%s: table %q has no cursor column (write table.column)", env, t.Name)
			}
			if !identifier.MatchString(t.CursorColumn) {
				return errs.Errorf(errs.Invalid, op, "%s: cursor column %q of table %q is not a lower-case PostgreSQL identifier", env, t.CursorColumn, t.Name)
			}
		}
		if !identifier.MatchString(t.Name) {
			return errs.Errorf(errs.Invalid, op, "%s: %q is not a lower-case PostgreSQL table name (letters, digits, _)", env, t.Name)
		}
		if seen[t.Name] {
			return errs.Errorf(errs.Invalid, op, "table %q is listed twice (in %s and %s it may be only once)", t.Name, c.name(TablesEnv), c.name(CursorTablesEnv))
		}
		seen[t.Name] = true
		if t.Mode == CDC && len(c.slot(t.Name)) > maxIdentifierLen {
			return errs.Errorf(errs.Invalid, op, "the replication slot %q of table %q is longer than 63 characters: shorten %s", c.slot(t.Name), t.Name, c.name(SlotPrefixEnv))
		}
	}
	return nil
}

// slot is the replication slot of a CDC table.
func (c *Config) slot(table string) string { return c.SlotPrefix + "_" + table }

// replicationConfig is the configuration of a logical replication connection
// (replication=database) to the database.
func (c *Config) replicationConfig() (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(c.connString())
	if err != nil {
		// The string holds the password: never quote it.
		return nil, errs.Errorf(errs.Invalid, "configure postgres", "the connection settings do not parse (%s, %s, %s, %s): %s",
			HostEnv, PortEnv, SSLModeEnv, SSLRootCertEnv, scrub(err, c.Password))
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["replication"] = "database"
	return cfg, nil
}

// sessionParams make values arrive as text in UTC with ISO dates and exact floats,
// whatever the role's defaults: the snapshot's ::text and pgoutput's text are then
// the same.
var sessionParams = map[string]string{"timezone": "UTC", "datestyle": "ISO, YMD", "intervalstyle": "iso_8601", "extra_float_digits": "3"}

// specTimeout bounds a catalog read made outside a landing (Spec): a stream looked
// up by name while the database is down should not hold its caller long.
const specTimeout = 5 * time.Second

func itoa(n int) string { return strconv.Itoa(n) }

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// scrub keeps the password out of an error's text.
func scrub(err error, password secret.Value) string {
	s := err.Error()
	if p := password.Reveal(); p != "" {
		s = strings.ReplaceAll(s, p, secret.Redacted)
	}
	return s
}

// configFrom reads the Config from the connector's variables.
func configFrom(v source.Values) (Config, error) { return configOf(v, Config{}) }

// configOf reads the Config from the variables of a source whose name, variable
// names (env) and declared tables base holds; without declared tables they are read
// from the variables.
func configOf(v source.Values, base Config) (Config, error) {
	const op = "configure postgres"
	c := base
	get := func(name string) string { return v.Get(c.name(name)) }
	c.Host, c.Database, c.User, c.Password = get(HostEnv), get(DatabaseEnv), get(UserEnv), secret.Value(get(PasswordEnv))
	c.SSLMode, c.SSLRootCert = get(SSLModeEnv), get(SSLRootCertEnv)
	c.Schema = cmp.Or(get(SchemaEnv), base.Schema)
	c.Publication, c.SlotPrefix = cmp.Or(get(PublicationEnv), base.Publication), cmp.Or(get(SlotPrefixEnv), base.SlotPrefix)
	if p := get(PortEnv); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return Config{}, errs.Errorf(errs.Invalid, op, "%s=%q: want a TCP port number", c.name(PortEnv), p)
		}
		c.Port = n
	}
	if h, p, err := net.SplitHostPort(c.Host); err == nil && c.Port == 0 {
		// host:port in the host variable, as people write it.
		if n, err := strconv.Atoi(p); err == nil {
			c.Host, c.Port = h, n
		}
	}
	lookback := DefaultLookback
	if s := get(LookbackEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Config{}, errs.Errorf(errs.Invalid, op, "%s=%q: want a duration such as 5m or 1h", c.name(LookbackEnv), s)
		}
		lookback = d
	}
	if base.Tables == nil {
		for _, t := range v.List(c.name(TablesEnv)) {
			c.Tables = append(c.Tables, Table{Name: t, Mode: CDC})
		}
		for _, t := range v.List(c.name(CursorTablesEnv)) {
			name, col, ok := strings.Cut(t, ".")
			if !ok {
				return Config{}, errs.Errorf(errs.Invalid, op, "%s: %q names no cursor column: write table.column (events.updated_at)", c.name(CursorTablesEnv), t)
			}
			c.Tables = append(c.Tables, Table{Name: name, Mode: Cursor, CursorColumn: col, Lookback: lookback})
		}
	} else {
		c.Tables = slices.Clone(base.Tables)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// vars are the connector's variables, in the README's order.
var vars = []source.Var{
	{Name: HostEnv, Locates: true, Doc: "PostgreSQL server host name (a primary for change data capture; a replica serves cursor-mode tables)"},
	{Name: PortEnv, Default: "`5432`", Locates: true, Doc: "its port"},
	{Name: DatabaseEnv, Locates: true, Doc: "the database to read"},
	{Name: UserEnv, Doc: "a role with `SELECT` on the tables and the `REPLICATION` attribute, nothing more"},
	{Name: PasswordEnv, Credential: true, File: true, Secret: true, Doc: "that role's password"},
	{Name: SSLModeEnv, Default: "`" + DefaultSSLMode + "`", Doc: "libpq's `sslmode`: `disable`, `require`, `verify-ca`, `verify-full`, …"},
	{Name: SSLRootCertEnv, Default: "the system's roots", Doc: "PEM file of the CA that signed the server's certificate"},
	{Name: SchemaEnv, Default: "`public`", Doc: "the schema of the tables"},
	{Name: TablesEnv, Locates: true, Doc: "tables read by change data capture: a snapshot, then inserts, updates and deletes (comma-separated)"},
	{Name: CursorTablesEnv, Locates: true, Doc: "tables (or views) read by a cursor column instead, as `table.column` (`events.updated_at`): for a replica without logical replication; hard deletes are not seen"},
	{Name: LookbackEnv, Default: "`5m`", Doc: "how far before the newest cursor value a cursor-mode sync starts again"},
	{Name: PublicationEnv, Default: "`meshflow`", Doc: "the publication holding the change-data-capture tables (created by their owner)"},
	{Name: SlotPrefixEnv, Default: "`meshflow`", Doc: "replication slots are named `<prefix>_<table>`, one per table"},
}

func (t Table) String() string {
	if t.Mode == Cursor {
		return fmt.Sprintf("%s (cursor %s)", t.Name, t.CursorColumn)
	}
	return t.Name
}
