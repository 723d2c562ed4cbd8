package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/domains"
	"github.com/meshflow/meshflow/framework/errs"
)

// schedules apply refuses a bad declaration before it dials Temporal: with no Temporal
// at all, the error is the declaration's, naming the product and the field.
func TestSchedulesApplyValidatesBeforeTemporal(t *testing.T) {
	m := domains.Mesh()
	m.Domains = slices.Clone(m.Domains)
	d := &m.Domains[0]
	d.Products = slices.Clone(d.Products)
	d.Products[0].Cadence = "*/0 6 * * *"
	var out bytes.Buffer
	e := &env{mesh: m, stdout: &out, stderr: &out}
	if err := e.loadConfig(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	e.cfg.TemporalAddress = "127.0.0.1:1" // nothing listens there
	err := e.schedulesApply(context.Background())
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "product "+d.Name+"."+d.Products[0].Name) || !strings.Contains(err.Error(), `minute field "*/0"`) {
		t.Fatalf("err = %v, want the cadence's minute field named", err)
	}
}
