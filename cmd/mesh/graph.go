package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshflow/meshflow/framework/mesh"
)

func (e *env) graphCmd() *cobra.Command {
	var dot bool
	cmd := &cobra.Command{
		Use:   "graph [--dot]",
		Short: "the mesh's dependency graph: every product by level, with the streams and products it reads",
		Long: `Print every product in dependency order — level 0 reads only raw streams, each later level
reads products of earlier ones — with its domain's task queue and what it reads. --dot
prints the graph for Graphviz (mesh graph --dot | dot -Tsvg > mesh.svg). Products that read
each other in a cycle are refused when the mesh is declared (go test ./domains/...), with
the cycle named.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return e.graph(dot) },
	}
	cmd.Flags().BoolVar(&dot, "dot", false, "print Graphviz DOT instead of text")
	return cmd
}

func (e *env) graph(dot bool) error {
	levels, err := e.mesh.Levels()
	if err != nil {
		return err
	}
	if dot {
		e.graphDOT()
		return nil
	}
	for i, level := range levels {
		fmt.Fprintf(e.stdout, "level %d\n", i)
		for _, ref := range level {
			d, p, err := e.mesh.Find(ref.String())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "  %-44s %-22s ← %s\n", ref, d.TaskQueue(), inputList(p))
		}
	}
	return nil
}

// graphDOT prints the graph for Graphviz: a cluster per domain, raw streams as
// boxes, an edge from each input to its reader.
func (e *env) graphDOT() {
	w := e.stdout
	fmt.Fprintln(w, "digraph mesh {\n  rankdir=LR;\n  node [shape=ellipse];")
	raw := map[string]bool{}
	for _, d := range e.mesh.Domains {
		fmt.Fprintf(w, "  subgraph %q {\n    label=%q;\n", "cluster_"+d.Name, d.Name)
		for _, p := range d.Products {
			fmt.Fprintf(w, "    %q;\n", d.Name+"."+p.Name)
		}
		fmt.Fprintln(w, "  }")
	}
	for _, en := range e.mesh.Products() {
		for _, in := range en.Product.Inputs {
			if in.IsRaw() && !raw[in.String()] {
				raw[in.String()] = true
				fmt.Fprintf(w, "  %q [shape=box];\n", in.String())
			}
			fmt.Fprintf(w, "  %q -> %q;\n", in.String(), en.Ref().String())
		}
	}
	fmt.Fprintln(w, "}")
}

func inputList(p mesh.Product) string {
	names := make([]string, len(p.Inputs))
	for i, in := range p.Inputs {
		names[i] = in.String()
	}
	return strings.Join(names, ", ")
}
