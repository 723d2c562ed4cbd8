package mesh

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FromDisk returns m with each domain's model files read from its folder under
// root/domains instead of from the build: a saved edit shows in seconds, without a
// rebuild (`mesh check`, `mesh dev`). A domain is matched to the folder whose models/
// holds most of the .sql files the build embedded (Domain.Files); a product whose model is
// one of those files gets the file's text on disk. Domains without embedded files, or
// whose folder is not there (an installed binary), stay as built. Changes to Go
// declarations still need a rebuild: the notes say what was seen of them (a model file
// gone from the folder).
func (m Mesh) FromDisk(root string) (Mesh, []string) {
	dirs, _ := filepath.Glob(filepath.Join(root, "domains", "*", "models"))
	out := Mesh{Domains: make([]Domain, len(m.Domains))}
	var notes []string
	for i, d := range m.Domains {
		out.Domains[i] = d
		embedded := sqlFiles(d.Files)
		if len(embedded) == 0 {
			continue
		}
		dir, best := "", 0
		for _, cand := range dirs {
			if n := holds(cand, embedded); n > best {
				dir, best = filepath.Dir(cand), n
			}
		}
		if dir == "" {
			continue
		}
		disk := os.DirFS(dir)
		d.Files = disk
		d.Products = append([]Product(nil), d.Products...)
		for j, p := range d.Products {
			if name, ok := embedded[strings.TrimSpace(p.Model)]; ok {
				if b, err := fs.ReadFile(disk, name); err == nil {
					p.Model = string(b)
				} else {
					notes = append(notes, "domain "+d.Name+": "+name+" is gone from "+dir+": its product keeps the built model until a rebuild")
				}
			}
			if len(p.Legacy) > 0 {
				p.Legacy = append([]Legacy(nil), p.Legacy...)
				for k, l := range p.Legacy {
					if name, ok := embedded[strings.TrimSpace(l.Model)]; ok {
						if b, err := fs.ReadFile(disk, name); err == nil {
							p.Legacy[k].Model = string(b)
						}
					}
				}
			}
			d.Products[j] = p
		}
		out.Domains[i] = d
	}
	return out, notes
}

// sqlFiles maps each embedded .sql file's trimmed text to its name.
func sqlFiles(fsys fs.FS) map[string]string {
	if fsys == nil {
		return nil
	}
	out := map[string]string{}
	_ = fs.WalkDir(fsys, ".", func(name string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && path.Ext(name) == ".sql" {
			if b, err := fs.ReadFile(fsys, name); err == nil {
				out[strings.TrimSpace(string(b))] = name
			}
		}
		return nil
	})
	return out
}

// holds counts the files named that the models directory dir (…/models) has.
func holds(dir string, files map[string]string) int {
	base, n := filepath.Dir(dir), 0
	for _, name := range files {
		if _, err := os.Stat(filepath.Join(base, filepath.FromSlash(name))); err == nil {
			n++
		}
	}
	return n
}
