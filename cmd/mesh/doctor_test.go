package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/meshflow/meshflow/workers/host"
)

func TestDoctorPrintsALinePerCheckAndFails(t *testing.T) {
	for _, v := range host.Vars() { // the machine's own configuration stays out of the test
		t.Setenv(v.Name, "")
		if v.File {
			t.Setenv(v.Name+"_FILE", "")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // no Temporal there
	t.Setenv("MESHFLOW_TEMPORAL_ADDRESS", addr)

	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"doctor", "--lake", t.TempDir(), "--timeout", "2s"}, &out, &errOut)
	checks := 6 + len(host.Connectors()) // Temporal, namespace, search attributes, workers, lake, catalog and each source
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("1 of %d checks failed", checks)) {
		t.Fatalf("err = %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != checks+1 || !strings.HasPrefix(lines[0], "checking temporal="+addr) {
		t.Fatalf("want a header and %d checks:\n%s", checks, out.String())
	}
	for _, want := range []string{"FAIL  temporal", "skip  namespace", "skip  search attributes", "skip  workers", "ok    lake", "ok    catalog",
		"skip  hubspot            no credentials: set HUBSPOT_TOKEN or HUBSPOT_TOKEN_FILE"} {
		if !strings.Contains(out.String(), "\n"+want) {
			t.Errorf("no line %q in:\n%s", want, out.String())
		}
	}
}
