package postgres

import (
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// Declared is a PostgreSQL database a domain keeps as its own source, with the
// tables it reads declared (Table.Fields, Table.PrimaryKey): their streams are known
// without the database, so the products reading them are checked statically, and
// each landing checks the live tables against the declaration.
type Declared struct {
	Name  string // the source's name in raw inputs, e.g. "platform_db"
	Title string // how people call it, e.g. "the platform's database"
	// Prefix names its variables in place of POSTGRES: "PLATFORM_DB" reads
	// PLATFORM_DB_HOST, PLATFORM_DB_PASSWORD, …, so that two databases can be hosted
	// by one worker.
	Prefix string
	Schema string  // the tables' schema [DefaultSchema]
	Tables []Table // each with its Fields and PrimaryKey
}

// Connector is the declared source as the platform registers it: its variables
// (the generic connector's, renamed, but for the table lists, the schema and the
// cursor tables' lookback, which the declaration fixes) and its tables' streams.
func (d Declared) Connector() source.Connector {
	base := d.config()
	c := source.Connector{Name: d.Name, Title: d.Title,
		Open: func(v source.Values) (source.Source, error) {
			cfg, err := configOf(v, base)
			if err != nil {
				return nil, err
			}
			return New(cfg)
		}}
	for _, v := range vars {
		switch v.Name {
		case TablesEnv, CursorTablesEnv, SchemaEnv, LookbackEnv:
			continue
		}
		v.Name = base.name(v.Name)
		c.Vars = append(c.Vars, v)
	}
	for _, t := range d.Tables {
		c.Streams = append(c.Streams, t.spec())
	}
	return c
}

// Env is the variable of this source that sets what the generic connector's
// variable v (HostEnv, PasswordEnv, …) sets.
func (d Declared) Env(v string) string { c := d.config(); return c.name(v) }

func (d Declared) config() Config {
	prefix := d.Prefix
	tables := make([]Table, len(d.Tables))
	for i, t := range d.Tables {
		if t.Mode == "" {
			t.Mode = CDC
		}
		tables[i] = t
	}
	return Config{source: d.Name, Schema: d.Schema, Tables: tables,
		env: func(v string) string { return prefix + strings.TrimPrefix(v, "POSTGRES") }}
}

// Validate refuses a declaration that cannot be read: a table without declared
// columns or key, a key or cursor column that is not a declared column.
func (d Declared) Validate() error {
	op := "postgres: declare " + d.Name
	if d.Name == "" || d.Prefix == "" || len(d.Tables) == 0 {
		return errs.Errorf(errs.Invalid, op, "a declared database needs a Name, a Prefix for its variables and Tables")
	}
	for _, t := range d.Tables {
		declared := map[string]bool{}
		for _, f := range t.Fields {
			declared[f.Name] = true
		}
		if len(t.Fields) == 0 || len(t.PrimaryKey) == 0 {
			return errs.Errorf(errs.Invalid, op, "table %s declares no columns or no primary key", t.Name)
		}
		for _, k := range append(append([]string{}, t.PrimaryKey...), t.CursorColumn) {
			if k != "" && !declared[k] {
				return errs.Errorf(errs.Invalid, op, "table %s: %s is its key or cursor but not a declared column", t.Name, k)
			}
		}
	}
	return nil
}
