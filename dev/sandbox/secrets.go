package sandbox

// The sandbox as another deployment's services reach it (docker-compose.yml): the
// variables that point every connector at it, each credential in a file of one
// directory that the services and the sandbox service both mount. The compose file
// then names no source: a new connector is wired by its registration alone.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// SecretFile is the file of a secrets directory that holds the value of the
// variable name: the name in lower case (HUBSPOT_TOKEN → hubspot_token).
func SecretFile(name string) string { return strings.ToLower(name) }

// EnvVar is one variable of a service's environment and the connector it configures.
type EnvVar struct{ Connector, Name, Value string }

// ServiceEnv points every connector the sandbox serves at it as other services reach
// it, at root (http://sandbox:8280), with its credentials in files. It writes into
// dir a random value for each secret the sandbox's Values hold (which a sandbox
// started with --secrets-dir on dir accepts, see Flags) and the sandbox's own key
// files (Var.FileContents); a file that exists is kept. It returns the variables to
// set: each connector's values at root but its pacing and timeouts (Var.Tuning, the
// deployment's choice), a secret as NAME_FILE naming its file under mount, where
// the services find dir.
func (s *Server) ServiceEnv(root, dir, mount string) ([]EnvVar, error) {
	const op = "sandbox: service environment"
	// The services run as another user than the one writing dir: they traverse it
	// and read its files, while its parent keeps everyone else out.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, errs.E(errs.Invalid, op, err)
	}
	var out []EnvVar
	for _, v := range s.vendors {
		if l, ok := v.sb.(local); ok && l.LocalOnly() {
			continue // nothing at root serves it (see Local)
		}
		vals := v.sb.Values(root + v.path)
		for _, variable := range v.conn.Vars {
			value := vals.Get(variable.Name)
			if value == "" || variable.Tuning {
				continue
			}
			file := SecretFile(variable.Name)
			switch {
			case variable.Secret && !variable.File:
				return nil, errs.Errorf(errs.Internal, op, "%s is a secret of %s that cannot be read from a file: set File on its source.Var", variable.Name, v.name)
			case variable.Secret:
				if err := keepFile(filepath.Join(dir, file), randomSecret); err != nil {
					return nil, errs.E(errs.Invalid, op, err)
				}
				out = append(out, EnvVar{v.name, variable.Name + "_FILE", path.Join(mount, file)})
			case variable.FileContents:
				if err := keepFile(filepath.Join(dir, file), func() (string, error) { return value, nil }); err != nil {
					return nil, errs.E(errs.Invalid, op, err)
				}
				out = append(out, EnvVar{v.name, variable.Name, path.Join(mount, file)})
			default:
				out = append(out, EnvVar{v.name, variable.Name, value})
			}
		}
	}
	return out, nil
}

// keepFile writes name with what content returns unless it holds something already,
// readable by the services' users (the directory is what is closed).
func keepFile(name string, content func() (string, error)) error {
	if fi, err := os.Stat(name); err == nil && fi.Size() > 0 {
		return os.Chmod(name, 0o644)
	}
	c, err := content()
	if err != nil {
		return err
	}
	if err := os.WriteFile(name, []byte(c), 0o644); err != nil {
		return err
	}
	return os.Chmod(name, 0o644) // whatever the umask
}

// randomSecret is a credential no one else has: 24 random bytes in hex.
func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Flags are the sandbox command's flags for the connectors it serves: each one's own
// (source.Connector.SandboxFlags) and --secrets-dir.
type Flags struct {
	// SecretsDir holds the credentials the sandbox accepts, one file per secret
	// variable (SecretFile), as ServiceEnv writes them; "" = the flags' own.
	SecretsDir string
	vendors    []flagged
}

// flagged is one connector's sandbox and its flags.
type flagged struct {
	conn    source.Connector
	own     *flag.FlagSet // its flags alone, also registered on the command's
	setting any           // what SandboxFlags returned; nil without flags
}

// RegisterFlags registers on fs the sandbox flags of every connector with a sandbox,
// and --secrets-dir.
func RegisterFlags(fs *flag.FlagSet, conns []source.Connector) *Flags {
	f := &Flags{}
	fs.StringVar(&f.SecretsDir, "secrets-dir", "", "accept the credentials in this directory, a file per secret variable in lower case (hubspot_token), as `mesh compose-env` writes them")
	for _, c := range conns {
		if c.Sandbox == nil {
			continue
		}
		v := flagged{conn: c, own: flag.NewFlagSet(c.Name, flag.ContinueOnError)}
		if c.SandboxFlags != nil {
			v.setting = c.SandboxFlags(v.own)
			v.own.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
		}
		f.vendors = append(f.vendors, v)
	}
	return f
}

// Settings are what the flags filled, for Options.Settings. With SecretsDir, each
// credential a connector's sandbox accepts (a secret variable its Values hold) is
// first set to its file's content, on the connector's flag that holds it: the one
// whose value is the credential the sandbox serves.
func (f *Flags) Settings() ([]any, error) {
	var settings []any
	for _, v := range f.vendors {
		if f.SecretsDir != "" {
			if err := v.acceptSecrets(f.SecretsDir); err != nil {
				return nil, err
			}
		}
		if v.setting != nil {
			settings = append(settings, v.setting)
		}
	}
	return settings, nil
}

// acceptSecrets sets the connector's credential flags to the secrets of dir, and
// checks that its sandbox then serves them.
func (v flagged) acceptSecrets(dir string) error {
	op := "--secrets-dir"
	vals, err := v.served()
	if err != nil {
		return err
	}
	want := map[string]string{}
	for _, variable := range v.conn.Vars {
		current := vals.Get(variable.Name)
		if !variable.Secret || current == "" {
			continue
		}
		file := filepath.Join(dir, SecretFile(variable.Name))
		b, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(b)) == "") {
			return errs.Errorf(errs.Invalid, op, "%s, the %s the sandbox of %s accepts, is missing or empty: run `make compose-secrets` (mesh compose-env) to write it", file, variable.Name, v.conn.Name)
		}
		if err != nil {
			return errs.E(errs.Invalid, op, err)
		}
		var holders []string
		v.own.VisitAll(func(fl *flag.Flag) {
			if fl.Value.String() == current {
				holders = append(holders, "--"+fl.Name)
			}
		})
		switch len(holders) {
		case 0:
			return errs.Errorf(errs.Internal, op, "the sandbox of %s accepts a %s that none of its flags holds, so %s cannot set it: give the credential it accepts a flag (SandboxFlags)",
				v.conn.Name, variable.Name, file)
		case 1:
		default:
			return errs.Errorf(errs.Internal, op, "the sandbox of %s accepts a %s that %s all hold, so %s cannot set it: give the credential it accepts a flag of its own (SandboxFlags)",
				v.conn.Name, variable.Name, strings.Join(holders, ", "), file)
		}
		secret := strings.TrimSpace(string(b))
		if err := v.own.Set(strings.TrimPrefix(holders[0], "--"), secret); err != nil {
			return errs.Errorf(errs.Invalid, op, "%s from %s: %v", holders[0], file, err)
		}
		want[variable.Name] = secret
	}
	if len(want) == 0 {
		return nil
	}
	if vals, err = v.served(); err != nil {
		return err
	}
	for name, secret := range want {
		if vals.Get(name) != secret {
			return errs.Errorf(errs.Internal, op, "the sandbox of %s does not serve the %s of %s once its flag holds it: its Values must return the credential it accepts", v.conn.Name, name, dir)
		}
	}
	return nil
}

// served are the values of the connector's sandbox started alone with its flags'
// current settings.
func (v flagged) served() (source.Values, error) {
	o := &Options{Connectors: []source.Connector{v.conn}}
	if v.setting != nil {
		o.Settings = []any{v.setting}
	}
	srv, err := Open(o)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	if len(srv.Local()) > 0 {
		return nil, nil // the sandbox service does not serve it, nor accept its secrets (see Local)
	}
	return srv.Values("http://sandbox.invalid")[v.conn.Name], nil
}
