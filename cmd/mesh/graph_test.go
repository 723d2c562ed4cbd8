package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/domains"
)

// mesh graph lists every product once, each after what it reads, with no
// configuration; --dot is Graphviz.
func TestMeshGraph(t *testing.T) {
	t.Setenv("MESHFLOW_LAKE", "::not a lake::")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"graph"}, &out, &errOut); err != nil {
		t.Fatalf("mesh graph: %v\n%s", err, errOut.String())
	}
	text := out.String()
	for _, en := range domains.Mesh().Products() {
		if strings.Count(text, "  "+en.Ref().String()+" ") != 1 {
			t.Errorf("mesh graph lists %s %d times, want once", en.Ref(), strings.Count(text, "  "+en.Ref().String()+" "))
		}
	}
	// delivery_metrics reads jira_issues: it comes after it.
	if strings.Index(text, "  engineering.jira_issues ") > strings.Index(text, "  engineering.delivery_metrics ") || !strings.HasPrefix(text, "level 0\n") {
		t.Errorf("mesh graph out of order:\n%s", text)
	}
	out.Reset()
	if err := run(context.Background(), []string{"graph", "--dot"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "digraph mesh {") ||
		!strings.Contains(out.String(), `"engineering.jira_issues" -> "engineering.delivery_metrics";`) {
		t.Errorf("mesh graph --dot: %v\n%s", err, out.String())
	}
}
