package host_test

// The production compose file cannot run here (no Docker engine), so these tests load
// it the way `docker compose` does (compose-go, with interpolation) and check it
// against the code: the services the code expects, the variables the binaries read
// (host.Vars) and the values they need, the ports they listen on, the search
// attributes the workflows set, the start order, secrets by file, pinned images.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/dev/sandbox"
	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/flow"
	"github.com/meshflow/meshflow/workers/host"
)

const root = "../.."

// compose is the loaded docker-compose.yml, every profile included.
type compose struct {
	*types.Project
	t *testing.T
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(abs, "docker-compose.yml")},
		cli.WithWorkingDirectory(abs), cli.WithProfiles([]string{"*"}), cli.WithEnv(nil),
		// The env_file is generated (withSources reads one); the file alone must load.
		cli.WithoutEnvironmentResolution)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return compose{p, t}
}

func (c compose) service(name string) types.ServiceConfig {
	c.t.Helper()
	s, ok := c.Services[name]
	if !ok {
		c.t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// script is what a service runs: its command, or the script an `sh -c` entrypoint runs.
func script(s types.ServiceConfig) string {
	if len(s.Entrypoint) == 2 && s.Entrypoint[1] == "-c" && len(s.Command) > 0 {
		return s.Command[0]
	}
	return strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
}

var execBinary = regexp.MustCompile(`(?:^|exec )(/app/[\w-]+)`)

// binary is the Meshflow binary a service runs ("" for other images).
func binary(s types.ServiceConfig) string {
	if m := execBinary.FindStringSubmatch(script(s)); m != nil {
		return m[1]
	}
	return ""
}

// readsVars reports whether a service runs a binary that reads host.Vars.
func readsVars(s types.ServiceConfig) bool {
	b := binary(s)
	return b == "/app/mesh" || b == "/app/mesh-worker"
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// flagValue is the value after --name in a service's command.
func flagValue(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	m := regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `[ =]("[^"]*"|\S+)`).FindStringSubmatch(script(s))
	if m == nil {
		t.Fatalf("service %s runs %q without --%s", s.Name, script(s), name)
	}
	return strings.Trim(m[1], `"`)
}

func port(t *testing.T, hostPort string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", hostPort, err)
	}
	return p
}

// publishes checks that s listens on target inside its container and publishes it on
// the same port of the machine's loopback only.
func publishes(t *testing.T, s types.ServiceConfig, target string) {
	t.Helper()
	for _, p := range s.Ports {
		if strconv.Itoa(int(p.Target)) == target {
			if p.Published != target || p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %s:%s, want 127.0.0.1:%s", s.Name, target, p.HostIP, p.Published, target)
			}
			return
		}
	}
	t.Errorf("%s does not publish port %s (ports %v)", s.Name, target, s.Ports)
}

// flagDefault is the default of a string flag declared as fs.String(name, default, …)
// in a Go file: what the binary listens on when compose does not say.
func flagDefault(t *testing.T, file, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	def := ""
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "String" {
			return true
		}
		a, ok1 := call.Args[0].(*ast.BasicLit)
		d, ok2 := call.Args[1].(*ast.BasicLit)
		if ok1 && ok2 && a.Value == strconv.Quote(name) {
			def, _ = strconv.Unquote(d.Value)
		}
		return true
	})
	if def == "" {
		t.Fatalf("%s declares no --%s flag with a literal default", file, name)
	}
	return def
}

func TestComposeHasEveryServiceTheCodeExpects(t *testing.T) {
	c := loadCompose(t)
	for name, bin := range map[string]string{"catalog": "/app/mesh", "doctor": "/app/mesh", "sandbox": "/app/sandbox"} {
		if got := binary(c.service(name)); got != bin {
			t.Errorf("%s runs %q, want %s", name, got, bin)
		}
	}
	if s := script(c.service("catalog")); !strings.Contains(s, "/app/mesh serve") {
		t.Errorf("catalog runs %q, want mesh serve", s)
	}
	if s := script(c.service("doctor")); !strings.HasSuffix(s, "/app/mesh doctor") {
		t.Errorf("doctor runs %q, want mesh doctor", s)
	}
	for _, name := range []string{"postgresql", "temporal-schema", "temporal", "temporal-setup", "temporal-ui", "s3", "s3-setup"} {
		c.service(name)
	}

	// One worker service per domain queue, each domain hosted exactly once, so every
	// task queue has pollers and each scales on its own.
	hostedBy := map[string]string{}
	for name, s := range c.Services {
		if binary(s) != "/app/mesh-worker" {
			continue
		}
		ds := env(s, "MESHFLOW_DOMAINS")
		if ds == "" {
			t.Errorf("worker %s sets no MESHFLOW_DOMAINS: it would poll every queue beside the per-domain workers", name)
		}
		for _, d := range strings.Split(ds, ",") {
			if other, ok := hostedBy[d]; ok {
				t.Errorf("domain %s is hosted by both %s and %s", d, other, name)
			}
			hostedBy[d] = name
		}
	}
	registered := map[string]bool{}
	for _, d := range domains.Mesh().Domains {
		registered[d.Name] = true
		if hostedBy[d.Name] == "" {
			t.Errorf("no worker service hosts domain %s (task queue %s): add one with MESHFLOW_DOMAINS=%s", d.Name, d.TaskQueue(), d.Name)
		}
	}
	for d, svc := range hostedBy {
		if !registered[d] {
			t.Errorf("%s hosts %q, which domains/registry.go does not register", svc, d)
		}
	}
}

var pinnedTag = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$|^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$`)

// pinned checks an image reference names an exact version (a digest may follow).
func pinned(t *testing.T, where, image string) {
	t.Helper()
	ref, _, _ := strings.Cut(image, "@sha256:")
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		t.Errorf("%s: image %q has no tag: pin an exact version", where, image)
		return
	}
	if tag := ref[i+1:]; !pinnedTag.MatchString(tag) {
		t.Errorf("%s: image %q is not pinned to an exact version (tag %q)", where, image, tag)
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Build != nil {
			if s.Image != "meshflow:local" || s.Build.Dockerfile != "Dockerfile" {
				t.Errorf("%s builds image %q from %q; every Meshflow service shares meshflow:local from ./Dockerfile", name, s.Image, s.Build.Dockerfile)
			}
			continue
		}
		pinned(t, name, s.Image)
	}

	// The Dockerfile's base images, and a Go builder of the version go.mod names.
	df := readFile(t, "Dockerfile")
	args := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ARG (\w+)=(\S+)$`).FindAllStringSubmatch(df, -1) {
		args[m[1]] = m[2]
	}
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) != 2 {
		t.Fatalf("Dockerfile has %d stages, want a builder and a runtime", len(froms))
	}
	for _, m := range froms {
		img := os.Expand(m[1], func(k string) string { return args[k] })
		pinned(t, "Dockerfile", img)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(readFile(t, "go.mod"))
	if goVersion == nil || !strings.HasPrefix(args["GO_IMAGE"], "golang:"+goVersion[1]+".") {
		t.Errorf("Dockerfile builds with %q; go.mod wants Go %v", args["GO_IMAGE"], goVersion)
	}
	if !strings.Contains(args["GO_IMAGE"], "bookworm") || !strings.HasPrefix(args["RUNTIME_IMAGE"], "debian:12") {
		t.Errorf("builder %q and runtime %q must share Debian 12's glibc (DuckDB is linked with cgo)", args["GO_IMAGE"], args["RUNTIME_IMAGE"])
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestComposeRunsTheBinariesTheDockerfileBuilds: the Dockerfile builds its binaries
// from the packages the Makefile builds them from, into /app/, and every service of
// the Meshflow image runs one of those.
func TestComposeRunsTheBinariesTheDockerfileBuilds(t *testing.T) {
	makefile := map[string]string{}
	for _, m := range regexp.MustCompile(`build -o \$\(BIN\)/([\w-]+) (\./\S+)`).FindAllStringSubmatch(readFile(t, "Makefile"), -1) {
		makefile[m[1]] = m[2]
	}
	df := readFile(t, "Dockerfile")
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`go build [^\n]*-o /out/([\w-]+) (\./\S+)`).FindAllStringSubmatch(df, -1) {
		got[m[1]] = m[2]
	}
	if len(got) == 0 {
		t.Fatal("the Dockerfile builds no binary into /out/")
	}
	for bin, pkg := range got {
		if makefile[bin] != pkg {
			t.Errorf("the Dockerfile builds %s from %s, the Makefile from %q", bin, pkg, makefile[bin])
		}
	}
	if !strings.Contains(df, "COPY --from=build /out/ /app/") || !strings.Contains(df, "CGO_ENABLED=1") {
		t.Error("the Dockerfile must build with cgo (DuckDB) and copy /out/ to /app/")
	}
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Image != "meshflow:local" {
			continue
		}
		if _, ok := got[strings.TrimPrefix(binary(s), "/app/")]; !ok {
			t.Errorf("%s runs %q, which the Dockerfile does not build", name, script(s))
		}
	}
	ignore := readFile(t, ".dockerignore")
	for _, p := range []string{"secrets", ".git", ".meshflow"} {
		if !slices.Contains(strings.Fields(ignore), p) {
			t.Errorf(".dockerignore does not keep %s out of the build context", p)
		}
	}
}

// secretsDir runs `make compose-secrets` into a temporary directory: the files the
// compose file mounts and its env_file, as a user gets them. It runs once per test
// binary (the generator is a `go run` of mesh); the tests only read the directory.
func secretsDir(t *testing.T) string {
	t.Helper()
	generate.Do(func() {
		dir, err := os.MkdirTemp("", "meshflow-compose-secrets-")
		if err != nil {
			generate.err = err
			return
		}
		generate.dir = filepath.Join(dir, "secrets")
		out, err := exec.Command("make", "-s", "-C", root, "compose-secrets", "SECRETS="+generate.dir).CombinedOutput()
		if err != nil {
			generate.err = fmt.Errorf("make compose-secrets: %v\n%s", err, out)
		}
	})
	if generate.err != nil {
		t.Fatal(generate.err)
	}
	return generate.dir
}

var generate struct {
	sync.Once
	dir string
	err error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if generate.dir != "" {
		os.RemoveAll(filepath.Dir(generate.dir))
	}
	os.Exit(code)
}

// repoSecrets is the repository's secrets directory, which the compose file's paths
// name (the tests read a generated one in its place).
func repoSecrets(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(abs, "secrets")
}

// generatedPath is where a path of the repository's secrets directory is in
// generated; "" for a path outside it.
func generatedPath(t *testing.T, path, generated string) string {
	t.Helper()
	rel, err := filepath.Rel(repoSecrets(t), path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	return filepath.Join(generated, rel)
}

// withSources is the project as compose runs it once `make compose-secrets` wrote
// generated: each service's env_file read from there, as compose merges it (a
// variable the service's environment sets wins).
func (c compose) withSources(generated string) compose {
	c.t.Helper()
	for name, s := range c.Services {
		for i, f := range s.EnvFiles {
			if p := generatedPath(c.t, f.Path, generated); p != "" {
				s.EnvFiles[i].Path = p
			}
		}
		c.Services[name] = s
	}
	p, err := c.WithServicesEnvironmentResolved(true)
	if err != nil {
		c.t.Fatalf("the services' env_file: %v", err)
	}
	return compose{p, c.t}
}

// inService is the file of generated that a service finds at path (a secret under
// /run/secrets/, or a directory bind-mounted from secrets/ or a file in it), and
// whether it is mounted at all.
func (c compose) inService(s types.ServiceConfig, path, generated string) (string, bool) {
	c.t.Helper()
	for _, sec := range s.Secrets {
		target := sec.Target
		if target == "" {
			target = sec.Source
		}
		if !filepath.IsAbs(target) {
			target = "/run/secrets/" + target
		}
		if path == target {
			return generatedPath(c.t, c.Secrets[sec.Source].File, generated), true
		}
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if path == v.Target {
			return generatedPath(c.t, v.Source, generated), true
		}
		if rel, ok := strings.CutPrefix(path, v.Target+"/"); ok {
			return generatedPath(c.t, filepath.Join(v.Source, rel), generated), true
		}
	}
	return "", false
}

var secretRef = regexp.MustCompile(`/run/secrets/[\w./-]*\w`)

func TestComposeSecretsAreFilesNeverInline(t *testing.T) {
	generated := secretsDir(t)
	c := loadCompose(t).withSources(generated)
	for name, s := range c.Secrets {
		if s.Environment != "" || s.Content != "" || s.File == "" {
			t.Errorf("secret %s is not a file", name)
			continue
		}
		if filepath.Dir(s.File) != repoSecrets(t) {
			t.Errorf("secret %s is %s, outside secrets/", name, s.File)
		}
		if b, err := os.ReadFile(filepath.Join(generated, filepath.Base(s.File))); err != nil || len(b) == 0 {
			t.Errorf("make compose-secrets does not generate %s: %v", filepath.Base(s.File), err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(generated, ".gitignore")); strings.TrimSpace(string(b)) != "*" {
		t.Error("the secrets directory does not ignore itself in git")
	}
	if fi, err := os.Stat(generated); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("make compose-secrets leaves %s open (%v): only its owner may list it", generated, fi.Mode().Perm())
	}

	secretish := regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|_KEY)$`)
	for name, s := range c.Services {
		for _, sec := range s.Secrets {
			if sec.Target != "" && sec.Target != sec.Source && sec.Target != "/run/secrets/"+sec.Source {
				t.Errorf("%s mounts secret %s as %s: keep /run/secrets/<name>", name, sec.Source, sec.Target)
			}
		}
		// Every /run/secrets/<x> a service reads is mounted into it, its environment
		// as compose sets it (the generated env_file included).
		texts := []string{script(s)}
		for k, v := range s.Environment {
			if v != nil {
				texts = append(texts, *v)
			}
			if secretish.MatchString(k) {
				t.Errorf("%s sets %s in its environment: mount the secret and set %s_FILE", name, k, k)
			}
			if v, ok := host.LookupVar(k); ok && v.Secret && k == v.Name {
				t.Errorf("%s sets the secret %s inline: mount it and set %s_FILE", name, k, k)
			}
		}
		for _, cfg := range s.Configs {
			texts = append(texts, c.Configs[cfg.Source].Content)
		}
		if s.HealthCheck != nil {
			texts = append(texts, strings.Join(s.HealthCheck.Test, " "))
		}
		for _, text := range texts {
			for _, path := range secretRef.FindAllString(text, -1) {
				if _, ok := c.inService(s, path, generated); !ok {
					t.Errorf("%s reads %s without mounting it", name, path)
				}
			}
		}
	}
}

// TestComposeWiresTheSourcesFromTheRegistry: the compose file and the Makefile name
// no source; every Meshflow service reads the sources' variables from the env_file
// `mesh compose-env` writes and their secrets from the directory it writes, mounted
// read-only where the sandbox service reads the credentials it accepts. A new
// connector is then wired by its registration alone (the test below checks what
// the generator makes of it).
func TestComposeWiresTheSourcesFromTheRegistry(t *testing.T) {
	c := loadCompose(t)
	envFile := filepath.Join(repoSecrets(t), "sources.env")
	dir := filepath.Join(repoSecrets(t), "sources")
	targets := map[string]bool{}
	for name, s := range c.Services {
		if s.Image != "meshflow:local" {
			continue
		}
		if len(s.EnvFiles) != 1 || s.EnvFiles[0].Path != envFile || !bool(s.EnvFiles[0].Required) {
			t.Errorf("%s reads env files %+v; every Meshflow service reads the sources' variables from %s, required", name, s.EnvFiles, envFile)
		}
		mounted := false
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && v.Source == dir {
				mounted = true
				targets[v.Target] = true
				if !v.ReadOnly {
					t.Errorf("%s mounts %s writable: the services only read their secrets", name, dir)
				}
			}
		}
		if !mounted {
			t.Errorf("%s does not mount the sources' secrets (%s)", name, dir)
		}
	}
	if len(targets) != 1 {
		t.Fatalf("the services mount %s at %v: mount it at one place, which the env file's *_FILE paths name", dir, targets)
	}
	for target := range targets {
		if got := flagValue(t, c.service("sandbox"), "secrets-dir"); got != target {
			t.Errorf("the sandbox reads its credentials from %s, the services mount their secrets at %s", got, target)
		}
	}

	texts := map[string]string{"docker-compose.yml": readFile(t, "docker-compose.yml"), "the Makefile's compose-secrets": makeRecipe(t, "compose-secrets")}
	for _, conn := range host.Connectors() {
		var names []string
		for _, v := range conn.Vars {
			names = append(names, v.Name, sandbox.SecretFile(v.Name))
		}
		if conn.SandboxFlags != nil {
			own := flag.NewFlagSet(conn.Name, flag.ContinueOnError)
			conn.SandboxFlags(own)
			own.VisitAll(func(f *flag.Flag) { names = append(names, "--"+f.Name) })
		}
		for where, text := range texts {
			for _, n := range names {
				if regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(n) + `($|[^\w-])`).MatchString(text) {
					t.Errorf("%s names %s of the source %s: derive it from the registry (mesh compose-env) instead", where, n, conn.Name)
				}
			}
		}
	}
}

// makeRecipe is the recipe of a Makefile target.
func makeRecipe(t *testing.T, target string) string {
	t.Helper()
	var lines []string
	in := false
	for _, l := range strings.Split(readFile(t, "Makefile"), "\n") {
		switch {
		case strings.HasPrefix(l, target+":"):
			in = true
		case in && strings.HasPrefix(l, "\t"):
			lines = append(lines, l)
		case in:
			return strings.Join(lines, "\n")
		}
	}
	if !in {
		t.Fatalf("the Makefile has no target %s", target)
	}
	return strings.Join(lines, "\n")
}

// TestComposeEnvironmentIsWhatTheBinariesRead loads every Meshflow service's
// environment with host.ConfigFromEnv — its env_file and secret files as `make
// compose-secrets` writes them — and checks the configuration it yields against the
// rest of the file, then checks every registered source (the domains' own included)
// against a sandbox started as the sandbox service starts it, with the same secrets.
func TestComposeEnvironmentIsWhatTheBinariesRead(t *testing.T) {
	generated := secretsDir(t)
	c := loadCompose(t).withSources(generated)
	sandboxSvc := c.service("sandbox")
	sandboxRoot := "http://sandbox:" + port(t, flagValue(t, sandboxSvc, "addr"))
	sb := c.composeSandbox(sandboxSvc, generated)
	ts := httptest.NewServer(sb)
	defer ts.Close()

	n := 0
	for name, s := range c.Services {
		if !readsVars(s) {
			continue
		}
		n++
		for k := range s.Environment {
			if _, ok := host.LookupVar(k); !ok {
				t.Errorf("%s sets %s, which no Meshflow binary reads (host.Vars)", name, k)
			}
		}
		getenv := func(k string) string {
			v := env(s, k)
			variable, _ := host.LookupVar(k)
			if v == "" || !(variable.FileContents || strings.HasSuffix(k, "_FILE")) {
				return v
			}
			// A file: the one the service finds there, as generated.
			f, ok := c.inService(s, v, generated)
			if !ok || f == "" {
				t.Errorf("%s: %s=%s is not a file mounted into the service from secrets/", name, k, v)
				return ""
			}
			return f
		}
		cfg, err := host.ConfigFromEnv(getenv)
		if err != nil {
			t.Errorf("%s: its environment does not configure a Meshflow binary: %v", name, err)
			continue
		}
		checkTopology(t, c, name, cfg, generated)
		checkSources(t, name, cfg, sandboxRoot, sb, ts.URL)
	}
	if n < len(domains.Mesh().Domains)+2 {
		t.Errorf("only %d services run mesh or mesh-worker", n)
	}
}

// composeSandbox starts the sandbox in process as the sandbox service starts it: every
// connector's sandbox (the command's flags, sandbox.RegisterFlags), the flags the
// service's command gives set to their values, --secrets-dir read where the service
// mounts it from: the secrets generated.
func (c compose) composeSandbox(svc types.ServiceConfig, generated string) *sandbox.Server {
	c.t.Helper()
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	flags := sandbox.RegisterFlags(fs, host.Connectors())
	seed := fs.Int64("seed", 1, "")
	for _, m := range regexp.MustCompile(`--([\w-]+)[ =]("[^"]*"|\S+)`).FindAllStringSubmatch(script(svc), -1) {
		name, value := m[1], strings.Trim(m[2], `"`)
		if fs.Lookup(name) == nil {
			continue // the command's own flags (--addr)
		}
		if name == "secrets-dir" {
			dir, ok := c.inService(svc, value, generated)
			if !ok || dir == "" {
				c.t.Fatalf("the sandbox reads its credentials from %s, which is not mounted into it from secrets/", value)
			}
			value = dir
		}
		if err := fs.Set(name, value); err != nil {
			c.t.Fatalf("the sandbox service's --%s %s: %v", name, value, err)
		}
	}
	settings, err := flags.Settings()
	if err != nil {
		c.t.Fatalf("the sandbox service's flags: %v", err)
	}
	sb, err := sandbox.Open(&sandbox.Options{Seed: *seed, Connectors: host.Connectors(), Settings: settings})
	if err != nil {
		c.t.Fatalf("the sandbox service's flags: %v", err)
	}
	c.t.Cleanup(func() { sb.Close() }) // the platform database its Values start
	return sb
}

// owner is the name of the connector whose variable name is.
func owner(name string) string {
	for _, conn := range host.Connectors() {
		for _, v := range conn.Vars {
			if v.Name == name {
				return conn.Name
			}
		}
	}
	return ""
}

// checkTopology checks where a service's configuration points: Temporal, its
// namespace, the bucket, the catalog database.
func checkTopology(t *testing.T, c compose, name string, cfg host.Config, generated string) {
	t.Helper()
	temporal := c.service("temporal")
	if cfg.TemporalAddress != "temporal:7233" || port(t, host.DefaultTemporalAddress) != "7233" {
		t.Errorf("%s dials Temporal at %s, want temporal:7233 (the frontend's port)", name, cfg.TemporalAddress)
	}
	publishes(t, temporal, "7233")
	if ns := env(c.service("temporal-setup"), "TEMPORAL_NAMESPACE"); cfg.Namespace != ns {
		t.Errorf("%s uses namespace %q; temporal-setup creates %q", name, cfg.Namespace, ns)
	}

	// The lake and the warehouse are in the bucket s3-setup creates, on the s3 service.
	bucket := regexp.MustCompile(`mc mb --ignore-existing s3/([\w.-]+)`).FindStringSubmatch(script(c.service("s3-setup")))
	if bucket == nil {
		t.Fatal("s3-setup creates no bucket")
	}
	for what, loc := range map[string]string{"lake": cfg.Lake, "warehouse": cfg.Warehouse} {
		u, err := url.Parse(loc)
		if err != nil || u.Scheme != "s3" || u.Host != bucket[1] {
			t.Errorf("%s keeps the %s at %s, not in the bucket s3://%s", name, what, loc, bucket[1])
		}
	}
	if cfg.S3.Endpoint != "http://s3:9000" || !strings.Contains(script(c.service("s3-setup")), "http://s3:9000") {
		t.Errorf("%s reaches S3 at %q, want http://s3:9000 (MinIO's API port)", name, cfg.S3.Endpoint)
	}
	if key := strings.TrimSpace(readSecret(t, generated, "s3_access_key")); cfg.S3.AccessKeyID != key {
		t.Errorf("%s uses access key %q, s3-setup creates %q", name, cfg.S3.AccessKeyID, key)
	}

	// The catalog database is the one postgresql's init script creates, with the role
	// and password it creates.
	u, err := url.Parse(cfg.CatalogURI)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s: catalog %q is not a PostgreSQL URI", name, cfg.CatalogURI)
	}
	pg := c.service("postgresql")
	init := c.Configs["postgres-init"].Content
	role := regexp.MustCompile(`CREATE ROLE (\w+) LOGIN PASSWORD :'pw'`).FindStringSubmatch(init)
	db := regexp.MustCompile(`CREATE DATABASE (\w+) OWNER (\w+)`).FindStringSubmatch(init)
	if role == nil || db == nil || db[2] != role[1] || !strings.Contains(init, `pw="$(cat /run/secrets/catalog_db_password)"`) {
		t.Fatalf("postgres-init does not create the catalog's role and database:\n%s", init)
	}
	pw, _ := u.User.Password()
	if u.Hostname() != pg.Name || u.Port() != "5432" || u.User.Username() != role[1] || strings.TrimPrefix(u.Path, "/") != db[1] ||
		pw != strings.TrimSpace(readSecret(t, generated, "catalog_db_password")) {
		t.Errorf("%s: catalog %s is not database %s of role %s on %s:5432 with the catalog_db_password secret", name, u.Redacted(), db[1], role[1], pg.Name)
	}
}

func readSecret(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkSources checks that a service reads every source from the sandbox service with
// the credentials the sandbox is started with: where the data is and who reads it
// are what the sandbox serves (sb, serving at local, started as the sandbox service
// is), then it points the configuration at sb and makes each source's cheapest
// authenticated call.
func checkSources(t *testing.T, name string, cfg host.Config, sandboxRoot string, sb *sandbox.Server, local string) {
	t.Helper()
	served := sb.Values(sandboxRoot)
	c := cfg
	for _, conn := range host.Connectors() {
		if slices.Contains(sb.Local(), conn.Name) {
			// A database the demo runs on its own machine (the platform's), which the
			// sandbox service cannot serve: compose-env writes none of its variables
			// and says so; a deployment sets them.
			if conn.Configured(cfg.Sources[conn.Name]) {
				t.Errorf("%s configures %s, whose sandbox the sandbox service does not serve", name, conn.Name)
			}
			continue
		}
		if !conn.Configured(cfg.Sources[conn.Name]) {
			t.Errorf("%s does not configure %s: set its variables in x-meshflow-env (its base URL on %s, its credentials as secrets the sandbox service accepts too)",
				name, conn.Name, sandboxRoot)
			continue
		}
		for _, v := range conn.Vars {
			got, want := cfg.Sources[conn.Name].Get(v.Name), served[conn.Name].Get(v.Name)
			switch {
			case v.Secret || v.FileContents || tuning(v.Name) || want == "":
				// the calls below check credentials; pacing is the deployment's choice
			case got == "" && (v.Locates || v.Credential):
				t.Errorf("%s: %s is unset, the sandbox serves %q", name, v.Name, want)
			case got != "" && got != want:
				t.Errorf("%s: %s = %q, the sandbox serves %q", name, v.Name, got, want)
			}
			if strings.Contains(got, sandboxRoot) {
				c = c.WithValue(conn.Name, v.Name, strings.Replace(got, sandboxRoot, local, 1))
			}
		}
	}
	srcs, err := host.Sources(c)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for src, s := range srcs {
		if err := s.Check(ctx); err != nil {
			t.Errorf("%s: %s refuses the compose credentials: %v", name, src, err)
		}
	}
}

func TestComposePortsAreTheOnesTheBinariesListenOn(t *testing.T) {
	c := loadCompose(t)

	catalog := c.service("catalog")
	addr := flagValue(t, catalog, "addr")
	if def := flagDefault(t, "cmd/mesh/serve.go", "addr"); port(t, addr) != port(t, def) {
		t.Errorf("catalog listens on %s, mesh serve's default is %s: keep one port", addr, def)
	}
	publishes(t, catalog, port(t, addr))

	sb := c.service("sandbox")
	addr = flagValue(t, sb, "addr")
	if def := flagDefault(t, "cmd/sandbox/main.go", "addr"); port(t, addr) != port(t, def) {
		t.Errorf("sandbox listens on %s, its default is %s", addr, def)
	}
	publishes(t, sb, port(t, addr))

	publishes(t, c.service("temporal"), "7233")
	// The UI listens on TEMPORAL_UI_PORT and is published where `make dev` serves it,
	// so the README's links hold for both.
	ui := c.service("temporal-ui")
	uiPort := env(ui, "TEMPORAL_UI_PORT")
	found := false
	for _, p := range ui.Ports {
		if strconv.Itoa(int(p.Target)) == uiPort && p.Published == "8233" && p.HostIP == "127.0.0.1" {
			found = true
		}
	}
	if uiPort == "" || !found || !strings.Contains(readFile(t, "README.md"), "http://localhost:8233") {
		t.Errorf("temporal-ui listens on %q and publishes %v; want 127.0.0.1:8233 → its port, as in the README", uiPort, ui.Ports)
	}
	if got := env(ui, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("temporal-ui dials %s", got)
	}

	seen := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			if other, ok := seen[p.Published]; ok {
				t.Errorf("%s and %s both publish %s", name, other, p.Published)
			}
			seen[p.Published] = name
			if p.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on every interface: bind it to 127.0.0.1 (put a proxy in front in production)", name, p.Published)
			}
		}
	}
}

// TestComposeRegistersTheSearchAttributes: temporal-setup creates exactly the search
// attributes the workflows set, with their types, in the namespace the services use.
func TestComposeRegistersTheSearchAttributes(t *testing.T) {
	c := loadCompose(t)
	setup := c.service("temporal-setup")
	sc := script(setup)
	created := map[string]string{}
	for _, m := range regexp.MustCompile(`temporal operator search-attribute create [^\n]*--name (\w+) --type (\w+)`).FindAllStringSubmatch(sc, -1) {
		created[m[1]] = m[2]
	}
	if len(created) != len(flow.SearchAttributes) {
		t.Errorf("temporal-setup creates %v, the workflows set %v", created, flow.SearchAttributes)
	}
	for name, typ := range flow.SearchAttributes {
		if created[name] != typ {
			t.Errorf("temporal-setup creates %s as %q, the workflows set it as %s", name, created[name], typ)
		}
	}
	if !strings.Contains(sc, `temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE"`) || env(setup, "TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Errorf("temporal-setup does not create the namespace on temporal:7233:\n%s", sc)
	}
	ns := env(setup, "TEMPORAL_NAMESPACE")
	if ui := env(c.service("temporal-ui"), "TEMPORAL_DEFAULT_NAMESPACE"); ui != ns {
		t.Errorf("the UI opens namespace %q, temporal-setup creates %q", ui, ns)
	}
	// The server refreshes its search attribute cache on read, so the first runs after
	// setup are not refused.
	dyn := c.Configs["temporal-dynamic-config"].Content
	if !strings.Contains(dyn, "system.forceSearchAttributesCacheRefreshOnRead") || env(c.service("temporal"), "DYNAMIC_CONFIG_FILE_PATH") != c.service("temporal").Configs[0].Target {
		t.Errorf("temporal does not load the dynamic config that makes new search attributes usable at once")
	}
}

// TestComposeStartOrder checks depends_on: each service waits for what it uses, a
// health condition names a service with a healthcheck, a completion condition a
// one-shot service.
func TestComposeStartOrder(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for dep, d := range s.DependsOn {
			target := c.service(dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != "no" {
					t.Errorf("%s waits for %s to complete, which restarts (%s)", name, dep, target.Restart)
				}
			default:
				t.Errorf("%s depends on %s with condition %q: say what it waits for", name, dep, d.Condition)
			}
		}
		oneShot := strings.HasSuffix(name, "-setup") || strings.HasSuffix(name, "-schema") || name == "doctor"
		if oneShot == (s.Restart == "unless-stopped") {
			t.Errorf("%s restart policy %q: long-running services restart, one-shot ones do not", name, s.Restart)
		}
	}
	needs := map[string]map[string]string{
		"temporal-schema": {"postgresql": types.ServiceConditionHealthy},
		"temporal":        {"temporal-schema": types.ServiceConditionCompletedSuccessfully},
		"temporal-setup":  {"temporal": types.ServiceConditionHealthy},
		"temporal-ui":     {"temporal": types.ServiceConditionHealthy},
		"s3-setup":        {"s3": types.ServiceConditionHealthy},
		"catalog":         {"postgresql": types.ServiceConditionHealthy, "s3-setup": types.ServiceConditionCompletedSuccessfully},
	}
	for name, s := range c.Services {
		if binary(s) == "/app/mesh-worker" || name == "doctor" {
			needs[name] = map[string]string{
				"temporal-setup": types.ServiceConditionCompletedSuccessfully, "s3-setup": types.ServiceConditionCompletedSuccessfully,
				"postgresql": types.ServiceConditionHealthy, "sandbox": types.ServiceConditionHealthy,
			}
		}
	}
	for name, deps := range needs {
		s := c.service(name)
		for dep, cond := range deps {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s waits for %s with %q, want %s", name, dep, got, cond)
			}
		}
	}
}

// TestComposeScriptsKeepTheirShellVariables guards the shell scripts against a compose
// interpolation slip: a single "$" would be replaced by an (empty) variable of the
// machine running compose.
func TestComposeScriptsKeepTheirShellVariables(t *testing.T) {
	raw := readFile(t, "docker-compose.yml")
	sc := bufio.NewScanner(strings.NewReader(raw))
	single := regexp.MustCompile(`(^|[^$])\$[({A-Za-z_]`)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(text), "#") {
			continue
		}
		if single.MatchString(text) {
			t.Errorf("docker-compose.yml:%d has a single $ that compose would interpolate (write $$): %s", line, text)
		}
	}
}

// TestComposePrometheusScrapesEveryMeshflowService: the prometheus service's scrape
// configuration names every worker service on the port MESHFLOW_METRICS_ADDR makes it
// serve /metrics on, and the catalog on the address mesh serve listens on; nothing
// else.
func TestComposePrometheusScrapesEveryMeshflowService(t *testing.T) {
	c := loadCompose(t)
	pinned(t, "prometheus", c.service("prometheus").Image)
	cfg, ok := c.Configs["prometheus"]
	if !ok || cfg.Content == "" {
		t.Fatal("docker-compose.yml has no config prometheus with the scrape configuration")
	}
	var scrape struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(cfg.Content), &scrape); err != nil {
		t.Fatalf("the prometheus config is not YAML: %v", err)
	}
	targets := map[string]bool{}
	for _, sc := range scrape.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[tg] = true
			}
		}
	}
	want := map[string]bool{}
	for name, s := range c.Services {
		switch binary(s) {
		case "/app/mesh-worker":
			addr := env(s, "MESHFLOW_METRICS_ADDR")
			if addr == "" {
				t.Errorf("worker %s sets no MESHFLOW_METRICS_ADDR: it serves no metrics", name)
				continue
			}
			want[name+":"+port(t, addr)] = true
		case "/app/mesh":
			if strings.Contains(script(s), "/app/mesh serve") {
				want[name+":"+port(t, flagValue(t, s, "addr"))] = true
			}
		}
	}
	for tg := range want {
		if !targets[tg] {
			t.Errorf("prometheus does not scrape %s", tg)
		}
	}
	for tg := range targets {
		if !want[tg] {
			t.Errorf("prometheus scrapes %s, which no Meshflow service serves", tg)
		}
	}
}
