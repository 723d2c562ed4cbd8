package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sbjira "github.com/meshflow/meshflow/dev/sandbox/jira"
)

func TestRunJiraFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--jira-issues", "20", "--jira-projects", "2", "--jira-time-zone", "Asia/Kolkata",
			"--hubspot-contacts", "5", "--hubspot-companies", "2", "--hubspot-deals", "2"}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	req, _ := http.NewRequest("GET", sbjira.URL(strings.TrimSpace(line))+"/rest/api/3/myself", nil)
	req.SetBasicAuth(sbjira.DefaultEmail, sbjira.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"timeZone":"Asia/Kolkata"`) {
		t.Errorf("myself: %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunRejectsBadJiraTimeZone(t *testing.T) {
	err := run(t.Context(), []string{"--jira-time-zone", "Mars/Olympus"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Fatalf("got %v, want an error naming the zone", err)
	}
}
