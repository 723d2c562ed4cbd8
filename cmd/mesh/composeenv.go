package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/framework/errs"
)

// composeEnvHeader opens the env file compose-env writes; a file without it is a
// deployment's own, which compose-env keeps.
const composeEnvHeader = "# Written by `mesh compose-env`"

func (e *env) composeEnvCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compose-env [--dir secrets] [--sandbox URL] [--mount DIR]",
		Short: "write the sources' configuration of docker-compose.yml: every connector pointed at the sandbox service",
		Long: `Write the sources' part of docker-compose.yml's configuration, derived from the connectors'
registry (make compose-secrets runs it): DIR/sources.env, the env_file of every Meshflow
service, points every registered connector (the domains' own included) at the sandbox service
(its base URL under --sandbox, its other variables as the sandbox serves them, each secret as
NAME_FILE under --mount); DIR/sources/ holds a random value per secret, which the sandbox
service accepts (sandbox --secrets-dir), and the sandbox's key files. Files that exist are kept,
and so is a sources.env that does not begin with the line this command writes: a deployment
reading the real APIs writes its own.`,
		Args: noArgs,
	}
	dir := cmd.Flags().String("dir", "secrets", "the compose secrets directory: writes sources.env and sources/ in it")
	root := cmd.Flags().String("sandbox", "http://sandbox:8280", "the sandbox service's root URL as the services reach it")
	mount := cmd.Flags().String("mount", "/run/secrets/sources", "where the services mount DIR/sources")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return e.composeEnv(*dir, *root, *mount) }
	return cmd
}

// composeEnv writes dir/sources.env and dir/sources/ (see composeEnvCmd).
func (e *env) composeEnv(dir, root, mount string) error {
	const op = "compose-env"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errs.E(errs.Invalid, op, err)
	}
	conns := connectors.Of(e.mesh)
	srv, err := sandbox.Open(&sandbox.Options{Connectors: conns})
	if err != nil {
		return err
	}
	secrets := filepath.Join(dir, "sources")
	vars, err := srv.ServiceEnv(strings.TrimSuffix(root, "/"), secrets, mount)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if c.Sandbox == nil {
			fmt.Fprintf(e.stdout, "%s has no sandbox: set its variables yourself to read it\n", c.Name)
		}
	}
	for _, name := range srv.Local() {
		// Its sandbox is a server that only `mesh demo`/`mesh dev` start, on the machine
		// they run on: the sandbox service cannot serve it to the other services.
		fmt.Fprintf(e.stdout, "%s's sandbox is a PostgreSQL server that only `mesh demo` and `mesh dev` run, not the sandbox service: its variables are not written; set them to read a database\n", name)
	}

	file := filepath.Join(dir, "sources.env")
	if own, err := ownEnvFile(file); err != nil {
		return errs.E(errs.Invalid, op, err)
	} else if own {
		fmt.Fprintf(e.stdout, "kept %s (it does not begin with %q: a deployment's own); secrets in %s\n", file, composeEnvHeader, secrets)
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (make compose-secrets) from the connectors' registry: every\n", composeEnvHeader)
	fmt.Fprintf(&b, "# connector pointed at the sandbox service on %s, its secrets in files under %s.\n", root, mount)
	b.WriteString("# Written again each time; a deployment reading the real APIs writes its own file without\n")
	b.WriteString("# this header, which is kept (README, From laptop to production).\n")
	last := ""
	for _, v := range vars {
		if v.Connector != last {
			fmt.Fprintf(&b, "\n# %s\n", v.Connector)
			last = v.Connector
		}
		value, err := dotenvValue(v.Value)
		if err != nil {
			return errs.Errorf(errs.Internal, op, "%s of %s: %v", v.Name, v.Connector, err)
		}
		fmt.Fprintf(&b, "%s=%s\n", v.Name, value)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return errs.E(errs.Invalid, op, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d variables) and the secrets in %s\n", file, len(vars), secrets)
	return nil
}

// ownEnvFile reports whether file exists without the header compose-env writes.
func ownEnvFile(file string) (bool, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	first, err := bufio.NewReader(f).ReadString('\n')
	if first == "" && err != nil {
		return false, nil // empty: nothing of anyone's
	}
	return !strings.HasPrefix(first, composeEnvHeader), nil
}

var plainValue = regexp.MustCompile(`^[A-Za-z0-9_./:,@+=-]*$`)

// dotenvValue writes v as compose reads an env_file: bare when nothing in it is
// special, else single-quoted, which compose takes literally (no interpolation).
func dotenvValue(v string) (string, error) {
	if plainValue.MatchString(v) {
		return v, nil
	}
	if strings.ContainsAny(v, "'\\\n") {
		return "", fmt.Errorf("%q has a quote, a backslash or a line break, which an env file cannot hold literally", v)
	}
	return "'" + v + "'", nil
}
