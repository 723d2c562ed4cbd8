package catalog

import (
	"net/http"
	"slices"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
)

// TagUse is a column of a port carrying a tag.
type TagUse struct {
	Product        string              `json:"product"` // domain.product
	Column         string              `json:"column"`
	Type           mesh.ColumnType     `json:"type"`
	Doc            string              `json:"doc"`
	Classification mesh.Classification `json:"classification"`
}

// Tag is where one column tag appears across the mesh.
type Tag struct {
	Name string `json:"name"`
	// Sensitive: the tag marks personal data, masked for callers who may read no
	// restricted port.
	Sensitive bool     `json:"sensitive"`
	Columns   []TagUse `json:"columns"`
}

// Tags lists every column tag of the mesh, or the one named, with the columns that
// carry it: "every port with e-mail addresses". Declarations only: the names and
// docs of columns are no secret, their values are.
func (c *Catalog) Tags(name string) ([]Tag, error) {
	byTag := c.Mesh.Tagged()
	names := slices.Sorted(func(yield func(string) bool) {
		for t := range byTag {
			if (name == "" || t == name) && !yield(t) {
				return
			}
		}
	})
	if name != "" && len(names) == 0 {
		return nil, errs.Errorf(errs.NotFound, "tag", "no column is tagged %q: /tags lists the tags in use", name)
	}
	out := []Tag{}
	for _, t := range names {
		tag := Tag{Name: t, Sensitive: mesh.Column{Tags: []string{t}}.Sensitive(), Columns: []TagUse{}}
		for _, u := range byTag[t] {
			_, p, _ := c.Mesh.Find(u.Ref.String())
			tag.Columns = append(tag.Columns, TagUse{Product: u.Ref.String(), Column: u.Column.Name, Type: u.Column.Type, Doc: u.Column.Doc, Classification: p.Classification})
		}
		out = append(out, tag)
	}
	return out, nil
}

type tagsPage struct {
	Title string
	Tags  []Tag
}

func (c *Catalog) tagsPage(w http.ResponseWriter, r *http.Request) {
	tags, err := c.Tags(r.PathValue("tag"))
	if err != nil {
		fail(w, err)
		return
	}
	title := "Column tags"
	if t := r.PathValue("tag"); t != "" {
		title = "Columns tagged " + t
	}
	render(w, "tags.html", tagsPage{Title: title, Tags: tags})
}

func (c *Catalog) apiTags(w http.ResponseWriter, r *http.Request) {
	tags, err := c.Tags(r.PathValue("tag"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tags)
}
