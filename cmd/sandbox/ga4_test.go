package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGA4KeyFile(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	keyPath := filepath.Join(t.TempDir(), "ga4-key.json")
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--ga4-key-file", keyPath, "--ga4-days", "30",
			"--hubspot-contacts", "20", "--hubspot-companies", "5", "--hubspot-deals", "5"}, w, io.Discard)
		w.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL line: %v", err)
	}
	root := strings.TrimSpace(line)
	go io.Copy(io.Discard, out)
	b, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	var key struct {
		Type     string `json:"type"`
		TokenURI string `json:"token_uri"`
	}
	if err := json.Unmarshal(b, &key); err != nil || key.Type != "service_account" || key.TokenURI != root+"/ga4/token" {
		t.Errorf("key file %s: %v", b, err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
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
