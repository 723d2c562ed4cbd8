package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/workers/host"
)

// Env renders c as the environment bin/mesh-worker reads (host.ConfigFromEnv), so a
// test or a tool can run the worker as its own process against this stack, e.g. to
// kill it. Secrets and key files are written to files in dir (mode 0600) and passed
// by their file variables: a process's environment is readable by others on the
// machine, and a failing test prints it.
//
// Settings no variable carries (source.Unpaced, a connector's own such as Pendo's
// history) are left out, so that process uses the connectors' defaults for them.
// Any other setting Env cannot carry is an error: Env reads the environment back as
// the worker will and compares.
func Env(c host.Config, dir string) ([]string, error) {
	env, err := render(c, dir)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	back, err := host.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		return nil, errs.E(errs.Invalid, "render worker env", err)
	}
	diff := differing(reflect.ValueOf(back), reflect.ValueOf(c), "")
	for _, conn := range host.Connectors() {
		for _, v := range conn.Vars {
			if got, want := back.Sources[conn.Name][v.Name], c.Sources[conn.Name][v.Name]; got != want {
				diff = append(diff, v.Name)
			}
		}
	}
	if len(diff) > 0 {
		return nil, errs.Errorf(errs.Invalid, "render worker env", "the worker would not read %s as given: teach stack.Env its variable", strings.Join(diff, ", "))
	}
	return env, nil
}

// differing names the fields of two structs of one type whose values differ.
func differing(a, b reflect.Value, prefix string) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() {
			continue // state, not settings
		}
		name := prefix + f.Name
		fa, fb := a.Field(i), b.Field(i)
		switch {
		case f.Name == "Sources":
			continue // compared variable by variable: they hold settings no variable carries

		case fa.Kind() == reflect.Struct:
			out = append(out, differing(fa, fb, name+".")...)
		case !reflect.DeepEqual(fa.Interface(), fb.Interface()):
			out = append(out, name)
		}
	}
	return out
}

func render(c host.Config, dir string) ([]string, error) {
	var env []string
	set := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+value)
		}
	}
	// inFile writes value to a file of dir, named after the variable, and sets
	// variable to its path.
	inFile := func(name, variable, value string) error {
		f := filepath.Join(dir, strings.ToLower(name))
		if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
			return errs.Errorf(errs.Internal, "render worker env", "write %s: %v (is %s a writable directory?)", name, err, dir)
		}
		set(variable, f)
		return nil
	}
	set("MESHFLOW_TEMPORAL_ADDRESS", c.TemporalAddress)
	set("MESHFLOW_TEMPORAL_NAMESPACE", c.Namespace)
	set("MESHFLOW_LAKE", c.Lake)
	set("MESHFLOW_CATALOG_URI", c.CatalogURI)
	set("MESHFLOW_WAREHOUSE", c.Warehouse)
	set("MESHFLOW_WORKDIR", c.WorkDir)
	set("MESHFLOW_DOMAINS", strings.Join(c.Domains, ","))
	set("MESHFLOW_LOG_LEVEL", c.LogLevel)
	if c.StopTimeout > 0 {
		set("MESHFLOW_WORKER_STOP_TIMEOUT", c.StopTimeout.String())
	}

	for _, conn := range host.Connectors() {
		for _, v := range conn.Vars {
			value := c.Sources[conn.Name][v.Name]
			var err error
			switch {
			case value == "":
			case v.File || v.Secret: // a secret: its NAME_FILE
				err = inFile(v.Name, v.Name+"_FILE", value)
			case v.FileContents: // a key file: NAME names it
				err = inFile(v.Name, v.Name, value)
			default:
				set(v.Name, value)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return env, nil
}
