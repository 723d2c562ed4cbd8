package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// StreamRef names a raw stream landed for a domain.
type StreamRef struct {
	Domain, Source, Stream string
}

func (s StreamRef) String() string { return s.Domain + "/" + s.Source + "." + s.Stream }

// Prefix is where the stream's landings live.
func (s StreamRef) Prefix() string { return path.Join("raw", s.Domain, s.Source, s.Stream) }

func (s StreamRef) manifestPrefix() string { return s.Prefix() + "/_manifests/" }

// Manifest commits one landing. It is written last: files without a manifest are
// garbage from a failed attempt and nothing reads them. The newest manifest's
// CursorEnd is the stream's cursor, so a cursor can only advance past durable data.
type Manifest struct {
	V           int             `json:"v"`
	Stream      StreamRef       `json:"stream"`
	Seq         int             `json:"seq"`
	RunID       string          `json:"run_id"`
	Partition   string          `json:"partition,omitempty"`
	Files       []DataFile      `json:"files"`
	Rows        int64           `json:"rows"`
	CursorStart json.RawMessage `json:"cursor_start,omitempty"`
	CursorEnd   json.RawMessage `json:"cursor_end,omitempty"`
	SyncStart   time.Time       `json:"sync_start"`
	CommittedAt time.Time       `json:"committed_at"`
	// The stream's identity, so transforms can dedupe without the connector at hand.
	PrimaryKey  []string       `json:"primary_key"`
	CursorField string         `json:"cursor_field"`
	Deleted     string         `json:"deleted,omitempty"`   // source.StreamSpec.Deleted
	ReadMode    string         `json:"read_mode,omitempty"` // source.StreamSpec.ReadMode
	Fields      []source.Field `json:"fields"`
	// Warnings are what the landing's pages reported (source.Page.Warnings).
	Warnings []string `json:"warnings,omitempty"`
	// Supersedes, set on a compaction's landing, are the landings (sequence numbers)
	// whose rows it holds instead: readers read it and leave those out (see CompactStream).
	Supersedes []int `json:"supersedes,omitempty"`
}

// DataFile is one Parquet file of a landing. Files carry no cursor of their own: a
// resumed landing needs only the cursor after its last closed file
// (Checkpoint.Cursor) and a stream only its newest landing's end (CursorEnd), while
// a cursor per file made checkpoints grow by kilobytes a file. Manifests written
// before carry a "cursor" per file, which reading ignores.
type DataFile struct {
	Key  string `json:"key"`
	Rows int64  `json:"rows"`
}

func manifestKey(s StreamRef, seq int, runID string) string {
	return fmt.Sprintf("%s%08d-%s.json", s.manifestPrefix(), seq, sanitize(runID))
}

// Manifests returns the committed manifests of the stream that readers read, oldest
// first: a compaction's landing in the place of the landings it superseded, which are
// left out (see CompactStream). The records they hold are the stream's.
func (l *Lake) Manifests(ctx context.Context, s StreamRef) ([]Manifest, error) {
	all, err := l.allManifests(ctx, s)
	if err != nil {
		return nil, err
	}
	return live(all), nil
}

// LatestManifest returns the newest committed landing, whose CursorEnd is the stream's
// cursor, or ok=false before the first landing. A compaction's landing is never it:
// compaction moves old records, not the cursor.
func (l *Lake) LatestManifest(ctx context.Context, s StreamRef) (Manifest, bool, error) {
	keys, err := l.List(ctx, s.manifestPrefix())
	if err != nil {
		return Manifest{}, false, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !strings.HasSuffix(keys[i], ".json") {
			continue
		}
		m, err := l.readManifest(ctx, keys[i])
		if err != nil {
			return m, false, err
		}
		if len(m.Supersedes) == 0 {
			return m, true, nil
		}
	}
	return Manifest{}, false, nil
}

// CommittedBy finds the manifest run runID committed for partition ("" = none), or
// ok=false. A Land attempt whose worker died between its commit and reporting it
// leaves that manifest behind; the retry returns it instead of landing again, which
// would commit the same rows a second time. Manifest keys end in the run's id, so
// only its own manifests are read, whatever the number of the stream's landings.
func (l *Lake) CommittedBy(ctx context.Context, s StreamRef, runID, partition string) (key string, m Manifest, ok bool, err error) {
	keys, err := l.List(ctx, s.manifestPrefix())
	if err != nil {
		return "", Manifest{}, false, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if !isManifestOf(keys[i], runID) {
			continue
		}
		m, err := l.readManifest(ctx, keys[i])
		if err != nil {
			return "", Manifest{}, false, err
		}
		// Two run ids can sanitize alike: the manifest itself says whose it is.
		if m.RunID == runID && m.Partition == partition {
			return keys[i], m, true, nil
		}
	}
	return "", Manifest{}, false, nil
}

// isManifestOf reports whether key is named as a manifest of runID (manifestKey):
// <seq>-<sanitized run id>.json, the sequence number being digits only.
func isManifestOf(key, runID string) bool {
	name, ok := strings.CutSuffix(path.Base(key), ".json")
	if !ok {
		return false
	}
	seq, id, ok := strings.Cut(name, "-")
	if !ok || id != sanitize(runID) {
		return false
	}
	_, err := strconv.ParseUint(seq, 10, 64)
	return err == nil
}

// readManifest reads the manifest at key. The newest manifest's cursor is where the
// stream resumes, so one that is not a v1 manifest (null, {}, a newer format) must
// stop the stream with an error naming it, not read as "no cursor" and silently
// start a full refresh.
func (l *Lake) readManifest(ctx context.Context, key string) (Manifest, error) {
	if m, ok := l.manifests.Load(key); ok {
		return m.(Manifest), nil
	}
	var m Manifest
	if err := l.GetJSON(ctx, key, &m); err != nil {
		return Manifest{}, err
	}
	if m.V != 1 {
		return Manifest{}, errs.Errorf(errs.Invalid, "read "+key, "not a v1 manifest (v=%d), so the stream's cursor cannot be read: restore the file, or delete it to resume from the landing before it", m.V)
	}
	// Callers get copies of the struct; none changes what its slices hold in place.
	if l.cached.Add(1) > maxCachedManifests {
		l.manifests.Clear()
		l.cached.Store(1)
	}
	l.manifests.Store(key, m)
	return m, nil
}

// Cursor is the stream's current cursor: the end of its newest landing (nil before the first).
func (l *Lake) Cursor(ctx context.Context, s StreamRef) (json.RawMessage, error) {
	m, ok, err := l.LatestManifest(ctx, s)
	if err != nil || !ok {
		return nil, err
	}
	return m.CursorEnd, nil
}

// commit writes m as the stream's next manifest. Concurrent landings of one stream
// would otherwise read the same newest sequence number and both write the next one;
// each claims its number first with an exclusive create (claimKey) and takes the next
// free one when another landing got there first, so no two manifests share a number
// and the newest one is well defined.
func (l *Lake) commit(ctx context.Context, m *Manifest) (string, error) {
	op := "commit " + m.Stream.String()
	for range maxClaims {
		seq, err := l.nextSeq(ctx, m.Stream)
		if err != nil {
			return "", err
		}
		for ; ; seq++ {
			won, err := l.claim(ctx, claimKey(m.Stream, seq), m.RunID)
			if err != nil {
				return "", err
			}
			if won {
				m.Seq = seq
				key := manifestKey(m.Stream, m.Seq, m.RunID)
				return key, l.PutJSON(ctx, key, *m)
			}
			if seq%claimsBeforeRelist == claimsBeforeRelist-1 {
				break // many landings at once: list again rather than count up one by one
			}
		}
	}
	return "", errs.Errorf(errs.Conflict, op, "no free manifest sequence number after %d attempts: too many landings of this stream at once; retry", maxClaims)
}

const (
	maxClaims          = 20
	claimsBeforeRelist = 8
)

// claimKey reserves a sequence number. Nothing reads claims; a claim without a
// manifest (a landing that died between the two writes) is a gap in the numbers,
// which nothing minds.
func claimKey(s StreamRef, seq int) string {
	return fmt.Sprintf("%s%08d.claim", s.manifestPrefix(), seq)
}

// nextSeq is one past the highest number manifests and claims use. It reads key names
// only: lakes written before claims existed hold manifests alone, named the same way.
func (l *Lake) nextSeq(ctx context.Context, s StreamRef) (int, error) {
	keys, err := l.List(ctx, s.manifestPrefix())
	if err != nil {
		return 0, err
	}
	top := 0
	for _, k := range keys {
		name := path.Base(k)
		if len(name) < 8 || !(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".claim")) {
			continue
		}
		if n, err := strconv.Atoi(name[:8]); err == nil {
			top = max(top, n)
		}
	}
	return top + 1, nil
}

// claim creates key only if it does not exist, and reports whether this call created
// it. A file:// lake creates it with O_EXCL, atomic across processes (gocloud's
// fileblob checks for the file and then renames over it, which two writers can both
// pass); other buckets use gocloud's IfNotExist, a precondition the bucket itself
// enforces (memblob under its lock, S3 with If-None-Match: *, GCS and Azure with theirs).
func (l *Lake) claim(ctx context.Context, key, runID string) (bool, error) {
	op := "claim " + key
	if l.root != "" {
		p := filepath.Join(l.root, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, errs.E(errs.Internal, op, err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		if err != nil {
			return false, errs.E(errs.Internal, op, err)
		}
		_, err = f.WriteString(runID)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return false, errs.E(errs.Internal, op, err)
		}
		return true, nil
	}
	err := l.Bucket.WriteAll(ctx, key, []byte(runID), &blob.WriterOptions{ContentType: "text/plain", IfNotExist: true})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return false, nil
	}
	if err != nil {
		return false, errs.E(kindOf(err), op, err)
	}
	return true, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
