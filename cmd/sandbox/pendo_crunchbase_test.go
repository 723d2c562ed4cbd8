package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sbcrunchbase "github.com/meshflow/meshflow/dev/sandbox/crunchbase"
	sbpendo "github.com/meshflow/meshflow/dev/sandbox/pendo"
)

func TestRunPendoAndCrunchbaseFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--hubspot-contacts", "5", "--hubspot-companies", "20", "--hubspot-deals", "2",
			"--pendo-accounts", "7", "--pendo-visitors", "30", "--pendo-days", "5", "--pendo-time-zone", "Asia/Kolkata", "--pendo-key", "pk",
			"--crunchbase-organizations", "9", "--crunchbase-key", "ck"}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	root := strings.TrimSpace(line)
	for _, c := range []struct{ method, url, header, key, body, want string }{
		{"POST", sbpendo.URL(root) + "/api/v1/aggregation", "x-pendo-integration-key", "pk", `{"request":{"pipeline":[{"source":{"accounts":null}}]}}`, `"accountId":"acct-7"`},
		{"POST", sbcrunchbase.URL(root) + "/searches/organizations", "X-cb-user-key", "ck", `{"field_ids":["identifier"],"query":[]}`, `"count":9`},
	} {
		req, _ := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		req.Header.Set(c.header, c.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %.300s", c.url, resp.StatusCode, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunRejectsBadPendoTimeZone(t *testing.T) {
	err := run(t.Context(), []string{"--pendo-time-zone", "Mars/Olympus"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Fatalf("got %v, want an error naming the zone", err)
	}
}
