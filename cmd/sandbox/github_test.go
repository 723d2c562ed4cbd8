package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sbgithub "github.com/meshflow/meshflow/dev/sandbox/github"
)

func TestRunServesGitHub(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--hubspot-contacts", "5", "--hubspot-companies", "2", "--hubspot-deals", "2",
			"--github-issues", "10", "--github-pulls", "12", "--github-commits", "3", "--github-page-cap", "20", "--github-token", "ghp_cli",
			"--github-orgs", "4", "--github-user-forks", "2"}, w, io.Discard)
		w.Close()
	}()
	lines := bufio.NewReader(out)
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(line)
	req, _ := http.NewRequest("GET", sbgithub.URL(root)+"/repos/acme/app/issues?state=all&per_page=10&page=3", nil)
	req.Header.Set("Authorization", "Bearer ghp_cli")
	req.Header.Set("User-Agent", "cli-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 422 { // 3×10 > the page cap of 20
		t.Errorf("page past --github-page-cap: %d, want 422", resp.StatusCode)
	}
	// --github-orgs 4 and --github-user-forks 2: at most six forks of a repository.
	req, _ = http.NewRequest("GET", sbgithub.URL(root)+"/repos/acme/app/forks?per_page=10", nil)
	req.Header.Set("Authorization", "Bearer ghp_cli")
	req.Header.Set("User-Agent", "cli-test")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var forks []struct{ Owner struct{ Type string } }
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	err = json.Unmarshal(body, &forks)
	if err != nil {
		t.Logf("forks answer %d: %s", resp.StatusCode, body)
	}
	if err != nil || len(forks) == 0 || len(forks) > 6 {
		t.Errorf("forks of acme/app: %d (%v), want 1 to 6 with --github-orgs 4 --github-user-forks 2", len(forks), err)
	}
	cancel()
	rest, _ := io.ReadAll(lines)
	if len(rest) != 0 {
		t.Errorf("stdout carries more than the URL line: %q", rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a hang, not a slow machine: shutdown takes milliseconds
		t.Fatal("no clean shutdown within a minute of the cancel")
	}
}
