package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestProductsOnAnEmptyLake(t *testing.T) {
	t.Setenv("HUBSPOT_TOKEN", "")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"products", "--json", "--lake", t.TempDir()}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(list) == 0 {
		t.Fatal("no products listed")
	}
	for _, p := range list {
		for _, k := range []string{"name", "domain", "owner", "version", "rows", "snapshot", "quality", "freshness", "published_at"} {
			if _, ok := p[k]; !ok {
				t.Errorf("product %v has no %q", p["name"], k)
			}
		}
		if p["published_at"] != nil || p["freshness"].(map[string]any)["status"] != "unknown" {
			t.Errorf("never-published product %v = %v", p["name"], p)
		}
	}
}

func TestUnknownCommandAndProduct(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("err = %v", err)
	}
	err := run(context.Background(), []string{"show", "nope", "--lake", t.TempDir()}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "mesh products") {
		t.Fatalf("unknown product: %v", err)
	}
}
