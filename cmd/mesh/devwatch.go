package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meshflow/meshflow/connectors"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/transform"
)

// watchDomains says, while mesh dev runs, what each save under root/domains means: a
// model file is checked at once (the problems, or which product's next run uses it);
// a Go file needs a rebuild, which mesh dev cannot do for itself. It polls once a
// second until ctx ends — a handful of stat calls, and no watcher library to trust
// across editors that save by renaming.
func watchDomains(ctx context.Context, out io.Writer, built mesh.Mesh, root string) {
	seen := treeState(root)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now := treeState(root)
			for _, f := range changedFiles(seen, now) {
				reportSave(ctx, out, built, root, f, now[f] == fileState{})
			}
			seen = now
		}
	}()
}

type fileState struct {
	mod  time.Time
	size int64
}

// treeState is every model (.sql), declaration (.go) and source spec (.yaml) under
// root/domains and root/connectors with its modification time and size.
func treeState(root string) map[string]fileState {
	out := map[string]fileState{}
	for _, top := range []string{"domains", "connectors"} {
		_ = filepath.WalkDir(filepath.Join(root, top), func(path string, e fs.DirEntry, err error) error {
			ext := filepath.Ext(path)
			if err != nil || e.IsDir() || (ext != ".sql" && ext != ".go" && ext != ".yaml") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "testdata") {
				return nil
			}
			if info, err := e.Info(); err == nil {
				rel, _ := filepath.Rel(root, path)
				out[filepath.ToSlash(rel)] = fileState{info.ModTime(), info.Size()}
			}
			return nil
		})
	}
	return out
}

// changedFiles are the files added, changed or removed between two states, sorted.
func changedFiles(before, after map[string]fileState) []string {
	var out []string
	for f, st := range after {
		if before[f] != st {
			out = append(out, f)
		}
	}
	for f := range before {
		if _, ok := after[f]; !ok {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// reportSave prints what saving (or removing) file means for mesh dev.
func reportSave(ctx context.Context, out io.Writer, built mesh.Mesh, root, file string, removed bool) {
	stamp := time.Now().Format("15:04:05")
	if filepath.Ext(file) == ".yaml" {
		reportSpec(out, built, root, file, stamp)
		return
	}
	if filepath.Ext(file) == ".go" {
		fmt.Fprintf(out, "%s %s changed: Go declarations are built in — stop mesh dev (Ctrl-C), make build, start it again (Temporal's history and schedules are kept)\n", stamp, file)
		return
	}
	m, _ := built.FromDisk(root)
	problems, err := transform.CheckMesh(ctx, m, connectors.Of(m))
	if err != nil {
		fmt.Fprintf(out, "%s %s: could not check it: %v\n", stamp, file, err)
		return
	}
	var mine []string
	for _, p := range problems {
		if p.File = repoPath(p.Domain, p.File, m); p.File == file {
			mine = append(mine, p.String())
		}
	}
	var products []string
	if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file))); err == nil {
		for _, en := range m.Products() {
			if strings.TrimSpace(en.Product.Model) == strings.TrimSpace(string(b)) {
				products = append(products, en.Domain.Name+"."+en.Product.Name)
			}
		}
	}
	switch {
	case removed:
		fmt.Fprintf(out, "%s %s removed: its product keeps the model it was built with until a rebuild\n", stamp, file)
	case len(mine) > 0:
		fmt.Fprintf(out, "%s %s saved, and does not check:\n  %s\n", stamp, file, strings.Join(mine, "\n  "))
	case len(products) > 0:
		fmt.Fprintf(out, "%s %s saved: it checks; the next run of %s uses it (mesh run %s)\n", stamp, file, strings.Join(products, ", "), products[0])
	default:
		fmt.Fprintf(out, "%s %s saved\n", stamp, file)
	}
}

// reportSpec says whether a saved source spec loads, and so whether the next landing
// of its source uses it (the worker reads it again then).
func reportSpec(out io.Writer, built mesh.Mesh, root, file, stamp string) {
	for _, c := range connectors.Of(built) {
		if c.SpecFile != file || c.Reload == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err == nil {
			_, err = c.Reload(b)
		}
		if err != nil {
			fmt.Fprintf(out, "%s %s saved, and does not load — landings keep the spec as it was:\n  %v\n", stamp, file, err)
			return
		}
		fmt.Fprintf(out, "%s %s saved: it loads; the next landing of %s uses it\n", stamp, file, c.Name)
		return
	}
}
