package contract

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Change is one difference between two versions of a contract.
type Change struct {
	Field    string // the column, or "" for the table
	Breaking bool
	Message  string
}

func (c Change) String() string { return c.Message }

// Parse reads a contract written by YAML.
func Parse(b []byte) (Contract, error) {
	var c Contract
	err := yaml.Unmarshal(b, &c)
	return c, err
}

// Compare lists the changes from old to new with the rules datacontract-cli applies:
// a removed field, a changed type, a new required field, a field that became required
// and a narrowed set of accepted values break consumers; added optional fields, widened
// value sets and loosened requirements do not.
func Compare(old, new Contract) []Change {
	var out []Change
	if len(old.Schema) == 0 || len(new.Schema) == 0 {
		return nil
	}
	oldProps, newProps := byName(old.Schema[0].Properties), byName(new.Schema[0].Properties)
	for _, name := range sortedKeys(oldProps) {
		o := oldProps[name]
		n, ok := newProps[name]
		if !ok {
			out = append(out, Change{name, true, fmt.Sprintf("field %s was removed (or renamed)", name)})
			continue
		}
		if o.LogicalType != n.LogicalType || o.PhysicalType != n.PhysicalType {
			out = append(out, Change{name, true, fmt.Sprintf("field %s changed type from %s to %s", name, o.PhysicalType, n.PhysicalType)})
		}
		if !o.Required && n.Required {
			out = append(out, Change{name, true, fmt.Sprintf("field %s became required", name)})
		} else if o.Required && !n.Required {
			out = append(out, Change{name, false, fmt.Sprintf("field %s is no longer required", name)})
		}
		ov, nv := validValues(o), validValues(n)
		if ov != nil && nv != nil {
			var removed []string
			for _, v := range ov {
				if !slices.Contains(nv, v) {
					removed = append(removed, v)
				}
			}
			if len(removed) > 0 {
				out = append(out, Change{name, true, fmt.Sprintf("field %s no longer accepts %s", name, strings.Join(removed, ", "))})
			} else if len(nv) > len(ov) {
				out = append(out, Change{name, false, fmt.Sprintf("field %s accepts more values", name)})
			}
		} else if ov == nil && nv != nil {
			out = append(out, Change{name, true, fmt.Sprintf("field %s now restricts its values to %s", name, strings.Join(nv, ", "))})
		}
	}
	for _, name := range sortedKeys(newProps) {
		if _, ok := oldProps[name]; ok {
			continue
		}
		if newProps[name].Required {
			out = append(out, Change{name, true, fmt.Sprintf("new field %s is required", name)})
		} else {
			out = append(out, Change{name, false, fmt.Sprintf("new optional field %s", name)})
		}
	}
	return out
}

// Breaking returns the breaking changes.
func Breaking(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Breaking {
			out = append(out, c)
		}
	}
	return out
}

func byName(props []Property) map[string]Property {
	m := map[string]Property{}
	for _, p := range props {
		m[p.Name] = p
	}
	return m
}

func sortedKeys(m map[string]Property) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validValues returns the accepted values of a property's invalidValues rule, or nil.
func validValues(p Property) []string {
	for _, r := range p.Quality {
		if r.Metric != "invalidValues" {
			continue
		}
		var out []string
		switch vs := r.Arguments["validValues"].(type) {
		case []string:
			out = vs
		case []any:
			for _, v := range vs {
				out = append(out, fmt.Sprint(v))
			}
		}
		return out
	}
	return nil
}
