package access

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshflow/meshflow/framework/errs"
)

// fileFormat is the access file:
//
//	principals:
//	  - name: sales-analyst
//	    token_sha256: "<64 hex digits>"
//	    groups: [sales]
type fileFormat struct {
	Principals []filePrincipal `yaml:"principals"`
}

type filePrincipal struct {
	Name        string   `yaml:"name"`
	TokenSHA256 string   `yaml:"token_sha256"`
	Groups      []string `yaml:"groups"`
	line        int      // filled from the node tree, for messages
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
	groupRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	hexRE   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Load reads the access file at path. A missing file is not an error: it yields a
// policy under which nobody may read a restricted port, whose refusals name the file
// and how to create it. Every problem in a file that exists is an Invalid error naming
// the file, the line and the principal, and how to fix it.
func Load(path string) (*Policy, error) {
	p := &Policy{file: path}
	if path == "" {
		return p, nil
	}
	st, err := readState(path)
	if err != nil {
		return nil, err
	}
	p.state.Store(st)
	return p, nil
}

// Reload reads the policy's file again and, when it changed, makes what it says now
// the policy, for every caller at once. A file that no longer loads leaves the policy
// as it was and returns the error, naming the file and line; a file that was removed
// makes the policy refuse every restricted read, as Load does.
func (p *Policy) Reload() (changed bool, err error) {
	if p == nil || p.file == "" {
		return false, nil
	}
	st, err := readState(p.file)
	if err != nil {
		return false, err
	}
	old := p.state.Swap(st)
	return old == nil || old.exists != st.exists || old.sum != st.sum, nil
}

// Watch reloads the policy every interval until ctx ends, telling report of each
// change (nil) and of each new problem with the file (the error, once until the file
// changes again). Polling, rather than a signal or inotify, also sees a file that a
// secret mount or a config-management tool replaced behind a symlink. report runs on
// Watch's goroutine, so Watch returns only once ctx has ended and report returned: a
// report that can block must also give up when ctx ends.
func (p *Policy) Watch(ctx context.Context, every time.Duration, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := p.Reload()
		switch {
		case err != nil && err.Error() != lastErr:
			lastErr = err.Error()
			report(err)
		case err == nil && changed:
			lastErr = ""
			report(nil)
		}
	}
}

// readState reads and checks the access file at path.
func readState(path string) (*policyState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &policyState{}, nil
	}
	if err != nil {
		return nil, errs.Errorf(errs.Invalid, "access", "read the access file %s: %v", path, err)
	}
	f, err := parse(path, b)
	if err != nil {
		return nil, err
	}
	p := &policyState{exists: true, sum: sha256.Sum256(b)}
	names, digests := map[string]int{}, map[string]int{}
	for _, fp := range f.Principals {
		at := fmt.Sprintf("access file %s, line %d", path, fp.line)
		if fp.Name == "" {
			return nil, errs.Errorf(errs.Invalid, "access", "%s: a principal has no name: give each principal a name (letters, digits, . _ @ -)", at)
		}
		at += ", principal " + fp.Name
		if !nameRE.MatchString(fp.Name) {
			return nil, errs.Errorf(errs.Invalid, "access", "%s: the name may hold only letters, digits and . _ @ - (and start with a letter or digit)", at)
		}
		if l, dup := names[fp.Name]; dup {
			return nil, errs.Errorf(errs.Invalid, "access", "%s: the name is already used on line %d: names must be unique; rename or remove one", at, l)
		}
		names[fp.Name] = fp.line
		digest := strings.ToLower(strings.TrimSpace(fp.TokenSHA256))
		if !hexRE.MatchString(digest) {
			what := "is missing"
			if digest != "" {
				what = fmt.Sprintf("is not 64 hex digits (it has %d characters)", len(digest))
			}
			// Never echo the value: someone may have pasted a token here.
			return nil, errs.Errorf(errs.Invalid, "access", "%s: token_sha256 %s: it must be the SHA-256 hex digest of the token, never the token itself; `mesh access add-token` writes it, or use `printf %%s \"$TOKEN\" | sha256sum`", at, what)
		}
		if l, dup := digests[digest]; dup {
			return nil, errs.Errorf(errs.Invalid, "access", "%s: the same token digest is on line %d: give every principal its own token", at, l)
		}
		digests[digest] = fp.line
		if len(fp.Groups) == 0 {
			return nil, errs.Errorf(errs.Invalid, "access", "%s: no groups: list the groups it belongs to, e.g. groups: [sales] (a principal without groups reads no restricted port)", at)
		}
		for _, g := range fp.Groups {
			if !groupRE.MatchString(g) {
				return nil, errs.Errorf(errs.Invalid, "access", "%s: group %q may hold only letters, digits and . _ - (and start with a letter or digit)", at, g)
			}
		}
		e := entry{Principal: Principal{Name: fp.Name, Groups: fp.Groups}}
		if _, err := hex.Decode(e.digest[:], []byte(digest)); err != nil {
			return nil, errs.Errorf(errs.Internal, "access", "%s: decode token_sha256: %v", at, err)
		}
		p.principals = append(p.principals, e)
	}
	return p, nil
}

func parse(path string, b []byte) (fileFormat, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key (token_sha, group) must not silently drop a grant
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return f, errs.Errorf(errs.Invalid, "access", "access file %s: %s: write it in the form `principals: [{name: N, token_sha256: HEX, groups: [G]}]` (see README, Access control)", path, yamlProblem(err))
	}
	// The struct decode has no positions; the node tree has them, item for item.
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err == nil && len(doc.Content) > 0 {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "principals" {
				for j, item := range m.Content[i+1].Content {
					if j < len(f.Principals) {
						f.Principals[j].line = item.Line
					}
				}
			}
		}
	}
	return f, nil
}

var goTypeRE = regexp.MustCompile(` (in|into) (type )?[\[\]*\w.]*access\.\w+`)

// yamlProblem turns yaml.v3's message into one line without Go type names.
func yamlProblem(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			msgs[i] = goTypeRE.ReplaceAllString(m, "")
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// NewToken returns a new random token (32 bytes from crypto/rand, URL-safe, with a
// "mf_" prefix so secret scanners and people can recognise it) and its digest.
func NewToken() (token, digest string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", errs.E(errs.Internal, "access: new token", err)
	}
	token = "mf_" + base64.RawURLEncoding.EncodeToString(b)
	return token, Digest(token), nil
}

const fileHeader = `# Meshflow access file: who may read restricted output ports (see README, Access control).
# Tokens are kept only as SHA-256 digests; ` + "`mesh access add-token`" + ` adds a principal and prints its token once.
`

// AddToken creates a token for a new principal in groups, appends the principal with
// the token's digest to the access file at path (creating it, readable by its owner
// only), and returns the token, which exists nowhere else: print it once.
// An existing file must be valid and must not know the name already.
func AddToken(path, name string, groups []string) (string, error) {
	op := "access: add token"
	if path == "" {
		return "", errs.Errorf(errs.Invalid, op, "no access file: pass --file or set MESHFLOW_ACCESS_FILE")
	}
	if !nameRE.MatchString(name) {
		return "", errs.Errorf(errs.Invalid, op, "name %q: give a name of letters, digits and . _ @ - (e.g. --name sales-analyst)", name)
	}
	if len(groups) == 0 {
		return "", errs.Errorf(errs.Invalid, op, "no groups: name the groups the principal belongs to, e.g. --groups sales,finance")
	}
	for _, g := range groups {
		if !groupRE.MatchString(g) {
			return "", errs.Errorf(errs.Invalid, op, "group %q: use letters, digits and . _ - only", g)
		}
	}
	pol, err := Load(path)
	if err != nil {
		return "", err
	}
	for _, n := range pol.Principals() {
		if n == name {
			return "", errs.Errorf(errs.Invalid, op, "%s already has a principal named %s: pick another name, or remove its entry to replace its token", path, name)
		}
	}
	token, digest, err := NewToken()
	if err != nil {
		return "", err
	}
	doc, mode, err := readDoc(op, path, pol.Configured())
	if err != nil {
		return "", err
	}
	seq := principalsNode(&doc)
	groupSeq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, g := range groups {
		groupSeq.Content = append(groupSeq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: g})
	}
	item := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "name"}, {Kind: yaml.ScalarNode, Value: name},
		{Kind: yaml.ScalarNode, Value: "token_sha256"}, {Kind: yaml.ScalarNode, Value: digest, Style: yaml.DoubleQuotedStyle},
		{Kind: yaml.ScalarNode, Value: "groups"}, groupSeq,
	}}
	seq.Style = 0 // block style, one principal per entry, whatever the file used
	seq.Content = append(seq.Content, item)
	if err := writeDoc(op, path, &doc, mode, !pol.Configured()); err != nil {
		return "", err
	}
	return token, nil
}

// Revoke removes the principal name, and so its token, from the access file at path.
// A catalog that watches the file (mesh serve) refuses the token within seconds of
// the change and ends its sign-in sessions; the CLI reads the file on every command.
func Revoke(path, name string) error {
	op := "access: revoke"
	if path == "" {
		return errs.Errorf(errs.Invalid, op, "no access file: pass --file or set MESHFLOW_ACCESS_FILE")
	}
	pol, err := Load(path)
	if err != nil {
		return err
	}
	if !pol.Configured() {
		return errs.Errorf(errs.NotFound, op, "there is no access file at %s, so there is no token to revoke", path)
	}
	if !slices.Contains(pol.Principals(), name) {
		return errs.Errorf(errs.NotFound, op, "%s has no principal named %q: `mesh access list` shows the names (%s)", path, name, strings.Join(pol.Principals(), ", "))
	}
	doc, mode, err := readDoc(op, path, true)
	if err != nil {
		return err
	}
	seq := principalsNode(&doc)
	seq.Content = slices.DeleteFunc(seq.Content, func(item *yaml.Node) bool {
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == "name" && item.Content[i+1].Value == name {
				return true
			}
		}
		return false
	})
	return writeDoc(op, path, &doc, mode, false)
}

// readDoc reads the access file at path as a YAML node tree, which keeps its comments,
// and its permissions; a file that does not exist yet is an empty tree, owner-only.
func readDoc(op, path string, exists bool) (yaml.Node, fs.FileMode, error) {
	var doc yaml.Node
	mode := fs.FileMode(0o600)
	if !exists {
		return doc, mode, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return doc, mode, errs.Errorf(errs.Invalid, op, "read %s: %v", path, err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return doc, mode, errs.Errorf(errs.Invalid, op, "access file %s: %v", path, err)
	}
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return doc, mode, nil
}

// writeDoc replaces the access file at path with doc (and the header comment for a new
// file), then reads it back: a file this wrote must load.
func writeDoc(op, path string, doc *yaml.Node, mode fs.FileMode, header bool) error {
	var buf bytes.Buffer
	if header {
		buf.WriteString(fileHeader)
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	if err := enc.Close(); err != nil {
		return errs.E(errs.Internal, op, err)
	}
	if err := writeAtomic(path, buf.Bytes(), mode); err != nil {
		return errs.Errorf(errs.Invalid, op, "write %s: %v", path, err)
	}
	_, err := Load(path)
	return err
}

// principalsNode returns the principals sequence of doc, creating the document, the
// mapping or the key as needed.
func principalsNode(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode {
		*doc = yaml.Node{Kind: yaml.DocumentNode}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		doc.Content = []*yaml.Node{{Kind: yaml.MappingNode}}
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "principals" {
			v := m.Content[i+1]
			if v.Kind != yaml.SequenceNode { // "principals:" with nothing under it
				*v = yaml.Node{Kind: yaml.SequenceNode}
			}
			return v
		}
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "principals"}, seq)
	return seq
}

// writeAtomic replaces path with b through a rename, so a reader never sees half a file.
func writeAtomic(path string, b []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".access-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
