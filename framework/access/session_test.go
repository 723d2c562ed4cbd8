package access

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/framework/errs"
)

// jsonStore is a SessionStore in a map, keeping what a bucket would: the JSON bytes.
type jsonStore map[string][]byte

func (m jsonStore) PutJSON(_ context.Context, k string, v any) error {
	b, err := json.Marshal(v)
	m[k] = b
	return err
}

func (m jsonStore) GetJSON(_ context.Context, k string, v any) error {
	b, ok := m[k]
	if !ok {
		return errs.Errorf(errs.NotFound, "read "+k, "no such key")
	}
	return json.Unmarshal(b, v)
}

func (m jsonStore) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m jsonStore) Delete(_ context.Context, k string) error { delete(m, k); return nil }

func TestSessionsHoldNoTokenAndEnd(t *testing.T) {
	ctx := context.Background()
	path := writeFile(t, fmt.Sprintf("principals:\n  - {name: sales-analyst, token_sha256: %q, groups: [sales]}\n  - {name: web-analyst, token_sha256: %q, groups: [web]}\n",
		Digest(salesToken), Digest(mktToken)))
	pol, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	store := jsonStore{}
	s := &Sessions{Store: store, TTL: time.Hour, Now: func() time.Time { return now }}

	if _, _, _, err := s.Start(ctx, pol, "mf_wrong"); !IsUnauthenticated(err) || len(store) != 0 {
		t.Fatalf("unknown token: %v, stored %d", err, len(store))
	}
	id, pr, expires, err := s.Start(ctx, pol, salesToken)
	if err != nil || pr.Name != "sales-analyst" || len(id) != 43 || !expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("start: %q %+v %v %v", id, pr, expires, err)
	}
	for k, v := range store {
		if strings.Contains(k+string(v), id) || strings.Contains(k+string(v), salesToken) {
			t.Fatalf("the store holds the session id or the token: %s %s", k, v)
		}
	}
	if got, ok, err := s.Resolve(ctx, pol, id); !ok || err != nil || got.Name != "sales-analyst" || !got.InGroup([]string{"sales"}) {
		t.Fatalf("resolve: %+v %v %v", got, ok, err)
	}
	for _, bad := range []string{"", "x", salesToken, strings.Repeat("A", 43)} {
		if _, ok, err := s.Resolve(ctx, pol, bad); ok || err != nil {
			t.Errorf("resolve %q: %v %v", bad, ok, err)
		}
	}

	// Signed out: gone for every process sharing the store.
	if err := s.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Resolve(ctx, pol, id); ok || len(store) != 0 {
		t.Fatalf("after sign-out: ok %v, stored %d", ok, len(store))
	}

	// Expired: refused, and removed when seen.
	id, _, _, _ = s.Start(ctx, pol, salesToken)
	now = now.Add(time.Hour)
	if _, ok, _ := s.Resolve(ctx, pol, id); ok || len(store) != 0 {
		t.Fatalf("expired: ok %v, stored %d", ok, len(store))
	}

	// Revoked: the session ends as soon as the policy no longer knows its token.
	id, _, _, _ = s.Start(ctx, pol, salesToken)
	other, _, _, _ := s.Start(ctx, pol, mktToken)
	if err := Revoke(path, "sales-analyst"); err != nil {
		t.Fatal(err)
	}
	if changed, err := pol.Reload(); !changed || err != nil {
		t.Fatalf("reload: %v %v", changed, err)
	}
	if _, ok, _ := s.Resolve(ctx, pol, id); ok {
		t.Fatal("a revoked token's session still works")
	}
	if pr, ok, _ := s.Resolve(ctx, pol, other); !ok || pr.Name != "web-analyst" {
		t.Fatalf("another principal's session ended too: %+v %v", pr, ok)
	}

	// Sweep removes sessions nobody comes back to once they expire.
	s.Start(ctx, pol, mktToken)
	now = now.Add(2 * time.Hour)
	if n, err := s.Sweep(ctx, pol); n != 2 || err != nil || len(store) != 0 {
		t.Fatalf("sweep removed %d (%v), %d left", n, err, len(store))
	}
}

// An access file briefly missing or empty, as while config management rewrites it in
// place, refuses sessions without ending them: restored, they work again. A file that
// still lists principals but no longer a session's token ends it.
func TestSessionsOutliveAFileBeingRewritten(t *testing.T) {
	ctx := context.Background()
	text := fmt.Sprintf("principals:\n  - {name: sales-analyst, token_sha256: %q, groups: [sales]}\n  - {name: web-analyst, token_sha256: %q, groups: [web]}\n",
		Digest(salesToken), Digest(mktToken))
	path := writeFile(t, text)
	pol, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	store := jsonStore{}
	s := &Sessions{Store: store}
	id, _, _, err := s.Start(ctx, pol, salesToken)
	if err != nil {
		t.Fatal(err)
	}
	reload := func(what string) {
		t.Helper()
		if changed, err := pol.Reload(); !changed || err != nil {
			t.Fatalf("reload of %s: %v %v", what, changed, err)
		}
	}
	for what, rewrite := range map[string]func() error{
		"a removed file":   func() error { return os.Remove(path) },
		"a truncated file": func() error { return os.Truncate(path, 0) },
	} {
		if err := rewrite(); err != nil {
			t.Fatal(err)
		}
		reload(what)
		if _, ok, err := s.Resolve(ctx, pol, id); ok || !errs.Is(err, errs.Transient) || !strings.Contains(err.Error(), path) {
			t.Errorf("session with %s: ok %v, err %v; want refused, saying the file is missing or lists no principal", what, ok, err)
		}
		if n, err := s.Sweep(ctx, pol); n != 0 || err != nil || len(store) != 1 {
			t.Fatalf("with %s the session was removed: sweep %d %v, %d stored", what, n, err, len(store))
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		reload("the restored file")
		if pr, ok, err := s.Resolve(ctx, pol, id); !ok || err != nil || pr.Name != "sales-analyst" {
			t.Fatalf("session after %s was restored: %+v %v %v", what, pr, ok, err)
		}
	}

	if err := Revoke(path, "sales-analyst"); err != nil {
		t.Fatal(err)
	}
	reload("the file after revoke")
	if _, ok, err := s.Resolve(ctx, pol, id); ok || err != nil || len(store) != 0 {
		t.Fatalf("revoked: ok %v, err %v, %d stored", ok, err, len(store))
	}
}

func TestReloadFollowsTheFile(t *testing.T) {
	path := writeFile(t, fmt.Sprintf("# keep me\nprincipals:\n  - {name: sales-analyst, token_sha256: %q, groups: [sales]}\n  - {name: web-analyst, token_sha256: %q, groups: [marketing, web]}\n",
		Digest(salesToken), Digest(mktToken)))
	pol, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, pr := range pol.List() {
		listed = append(listed, pr.Name+" "+strings.Join(pr.Groups, ","))
	}
	if got := strings.Join(listed, "; "); got != "sales-analyst sales; web-analyst marketing,web" {
		t.Fatalf("list = %s", got)
	}
	if changed, err := pol.Reload(); changed || err != nil {
		t.Fatalf("reload of an unchanged file: %v %v", changed, err)
	}

	if err := Revoke(path, "nobody"); !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "sales-analyst, web-analyst") {
		t.Fatalf("revoke of an unknown name: %v", err)
	}
	if err := Revoke(path, "sales-analyst"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), Digest(salesToken)) || !strings.Contains(string(b), Digest(mktToken)) || !strings.Contains(string(b), "# keep me") {
		t.Fatalf("file after revoke:\n%s", b)
	}
	// The policy changes only when reloaded, and then for every holder at once.
	if _, err := pol.Authenticate(salesToken); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	if changed, err := pol.Reload(); !changed || err != nil {
		t.Fatalf("reload after revoke: %v %v", changed, err)
	}
	if _, err := pol.Authenticate(salesToken); !IsUnauthenticated(err) {
		t.Fatalf("revoked token: %v", err)
	}

	// A broken edit keeps the last good policy and says what is wrong.
	if err := os.WriteFile(path, []byte("principals:\n  - name: web-analyst\n    token_sha: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := pol.Reload(); changed || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), path) {
		t.Fatalf("broken file: %v %v", changed, err)
	}
	if pr, err := pol.Authenticate(mktToken); err != nil || pr.Name != "web-analyst" {
		t.Fatalf("after a broken edit: %+v %v", pr, err)
	}
	// A removed file lets nobody in.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if changed, err := pol.Reload(); !changed || err != nil || pol.Configured() {
		t.Fatalf("removed file: %v %v configured %v", changed, err, pol.Configured())
	}
	if err := Revoke(path, "web-analyst"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("revoke without a file: %v", err)
	}
}

func TestWatchReportsChanges(t *testing.T) {
	path := writeFile(t, "principals: []\n")
	pol, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reports, watched := make(chan error), make(chan struct{})
	go func() {
		defer close(watched)
		// A report nobody receives any more must not keep Watch from returning.
		pol.Watch(ctx, time.Millisecond, func(err error) {
			select {
			case reports <- err:
			case <-ctx.Done():
			}
		})
	}()
	// The test ends only once Watch has returned: nothing of it outlives the test.
	defer func() {
		cancel()
		<-watched
	}()
	if _, err := AddToken(path, "ops", []string{"ops"}); err != nil {
		t.Fatal(err)
	}
	if err := <-reports; err != nil || len(pol.Principals()) != 1 {
		t.Fatalf("watch: %v, principals %v", err, pol.Principals())
	}
	// Replaced whole, as editors and secret mounts do: the watch never reads half a file.
	if err := writeAtomic(path, []byte("principals: {"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-reports; !errs.Is(err, errs.Invalid) || len(pol.Principals()) != 1 {
		t.Fatalf("watch of a broken file: %v, principals %v", err, pol.Principals())
	}
}
