package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunPrintsURLAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "3", "--fault-429", "0.1", "--hubspot-contacts", "20", "--hubspot-companies", "5", "--hubspot-deals", "5"}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v", err)
	}
	root := strings.TrimSpace(line)
	if !strings.HasPrefix(root, "http://127.0.0.1:") {
		t.Fatalf("first line %q is not the base URL", line)
	}
	resp, err := http.Get(root + "/_sandbox/faults")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin endpoint: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"rate_limited":0.1`) {
		t.Errorf("faults from flags: %s", body)
	}
	go io.Copy(io.Discard, out)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine: shutdown takes milliseconds
		t.Fatal("no clean shutdown within a minute of the cancel")
	}
}

func TestRunRejectsBadFaults(t *testing.T) {
	if err := run(t.Context(), []string{"--fault-429", "0.8", "--fault-5xx", "0.8"}, io.Discard, io.Discard); err == nil {
		t.Fatal("fault rates summing past 1 were accepted")
	}
}
