package mesh

// Levels orders every product of the mesh by what it reads: level 0 reads only raw
// streams, each later level reads products of earlier ones. Products that read each
// other in a cycle cannot be ordered: the error names the cycle (Validate refuses it).
func (m Mesh) Levels() ([][]Ref, error) {
	g := newGraph(m)
	after := make(map[Ref][]Ref, len(g.order)) // every product, with or without product inputs
	for _, ref := range g.order {
		after[ref] = g.inputs[ref]
	}
	return levelsOf(g.order, after)
}
