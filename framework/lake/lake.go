// Package lake is the raw layer of the mesh: object storage opened by a gocloud URL,
// the streaming landing of source pages into Parquet, and the manifests that commit a
// landing and carry its cursor.
package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/meshflow/meshflow/framework/errs"
)

// Lake is a bucket holding raw landings, staged model outputs and run records.
type Lake struct {
	Bucket *blob.Bucket
	URL    string
	root   string // local directory behind a file:// bucket; "" otherwise

	// manifests caches the manifests read, by key (readManifest): a manifest is
	// written once under a key naming its number and run, and never rewritten, while
	// a stream's readers list and read every manifest of it, so without the cache a
	// day's run read a year of landings' manifests again each day.
	manifests sync.Map // key → Manifest
	cached    atomic.Int64
}

// maxCachedManifests bounds the manifest cache (a few kilobytes each): past it, the
// cache starts over.
const maxCachedManifests = 50_000

// Options tunes OpenWith; nil means defaults.
type Options struct {
	// S3 are static credentials for an s3:// lake. Without them gocloud's s3blob uses
	// the AWS SDK's default chain (AWS_* environment, shared config, instance or pod role).
	S3 *S3Credentials
}

// Open opens the lake at a gocloud URL (file://, mem://, s3://, ...) or a local
// directory path, which is created if needed. The caller imports the URL openers it
// wants (gocloud.dev/blob/fileblob, memblob, s3blob...) in its main package.
//
// An s3:// URL takes gocloud's query parameters: endpoint=http://host:port,
// use_path_style=true and region= for an S3-compatible server. A path names the key
// prefix the lake lives under: s3://bucket/lake is s3://bucket?prefix=lake/.
func Open(ctx context.Context, location string) (*Lake, error) {
	return OpenWith(ctx, location, nil)
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, location string, opts *Options) (*Lake, error) {
	u, root, err := Normalize(location)
	if err != nil {
		return nil, err
	}
	var b *blob.Bucket
	if opts != nil && opts.S3 != nil && strings.HasPrefix(u, "s3://") {
		b, err = openS3(ctx, u, *opts.S3)
	} else {
		b, err = blob.OpenBucket(ctx, u)
	}
	if err != nil {
		return nil, errs.E(errs.Invalid, "open lake "+location, err)
	}
	return &Lake{Bucket: b, URL: u, root: root}, nil
}

// Normalize turns a path or URL into a bucket URL, and returns the local root directory
// for file:// lakes. Local lakes write no metadata sidecars and keep temp files beside
// their targets so the final rename is atomic.
func Normalize(location string) (bucketURL, localRoot string, err error) {
	if location == "" {
		return "", "", errs.Errorf(errs.Invalid, "open lake", "no lake location: set MESHFLOW_LAKE to a directory or a bucket URL")
	}
	if !strings.Contains(location, "://") {
		abs, err := filepath.Abs(location)
		if err != nil {
			return "", "", errs.E(errs.Invalid, "open lake", err)
		}
		location = "file://" + abs
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "open lake "+location, err)
	}
	if u.Scheme != "file" {
		return bucketPrefix(location, u), "", nil
	}
	if err := os.MkdirAll(u.Path, 0o755); err != nil {
		return "", "", errs.E(errs.Invalid, "open lake "+location, err)
	}
	q := u.Query()
	q.Set("metadata", "skip")
	q.Set("no_tmp_dir", "1")
	u.RawQuery = q.Encode()
	return u.String(), u.Path, nil
}

// bucketPrefix turns the path of a bucket URL into gocloud's prefix parameter: the
// bucket drivers take the bucket from the host and ignore the path, so a lake at
// s3://bucket/lake would otherwise write to the root of the bucket.
func bucketPrefix(location string, u *url.URL) string {
	p := strings.Trim(u.Path, "/")
	if p == "" || (u.Scheme != "s3" && u.Scheme != "gs" && u.Scheme != "azblob") {
		return location
	}
	q := u.Query()
	if q.Get("prefix") == "" {
		q.Set("prefix", p+"/")
	} else {
		q.Set("prefix", p+"/"+strings.TrimPrefix(q.Get("prefix"), "/"))
	}
	out := *u
	out.Path, out.RawPath, out.RawQuery = "", "", q.Encode()
	return out.String()
}

// BucketURL turns the path of an s3://, gs:// or azblob:// URL into gocloud's
// prefix parameter, as the lake's own URL is read (see Normalize), for the other
// buckets the mesh reads (a team's dropped files). Other URLs are left as they are.
func BucketURL(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	return bucketPrefix(location, u), nil
}

// BlobKind is the errs.Kind of an error of a gocloud bucket.
func BlobKind(err error) errs.Kind { return kindOf(err) }

// LocalRoot is the directory behind a file:// lake, or "".
func (l *Lake) LocalRoot() string { return l.root }

// Close closes the bucket.
func (l *Lake) Close() error { return l.Bucket.Close() }

// LocalFiles returns local paths for keys so that DuckDB, which reads only local files
// here, can read them. A file:// lake returns its own files; other buckets are copied
// into dir.
func (l *Lake) LocalFiles(ctx context.Context, keys []string, dir string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if l.root != "" {
			out = append(out, filepath.Join(l.root, filepath.FromSlash(k)))
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := l.download(ctx, k, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (l *Lake) download(ctx context.Context, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return errs.E(errs.Internal, "copy "+key, err)
	}
	r, err := l.Bucket.NewReader(ctx, key, nil)
	if err != nil {
		return errs.E(kindOf(err), "copy "+key, err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return errs.E(errs.Internal, "copy "+key, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return errs.E(errs.Transient, "copy "+key, err)
	}
	return f.Close()
}

// Upload copies a local file into the bucket at key.
func (l *Lake) Upload(ctx context.Context, path, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return errs.E(errs.Internal, "upload "+key, err)
	}
	defer f.Close()
	w, err := l.Bucket.NewWriter(ctx, key, nil)
	if err != nil {
		return errs.E(kindOf(err), "upload "+key, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return errs.E(errs.Transient, "upload "+key, err)
	}
	// Close is where the upload commits; its error is the one that matters.
	if err := w.Close(); err != nil {
		return errs.E(errs.Transient, "upload "+key, err)
	}
	return nil
}

// PutJSON writes v as JSON at key. It is not indented: embedded cursors stay byte-for-byte.
func (l *Lake) PutJSON(ctx context.Context, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errs.E(errs.Internal, "write "+key, err)
	}
	if err := l.Bucket.WriteAll(ctx, key, b, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return errs.E(kindOf(err), "write "+key, err)
	}
	return nil
}

// GetJSON reads key into v; a missing key is errs.NotFound.
func (l *Lake) GetJSON(ctx context.Context, key string, v any) error {
	b, err := l.Bucket.ReadAll(ctx, key)
	if err != nil {
		return errs.E(kindOf(err), "read "+key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errs.E(errs.Invalid, "read "+key, fmt.Errorf("corrupt JSON: %w", err))
	}
	return nil
}

// List returns the keys under prefix, sorted, skipping in-flight temp files.
func (l *Lake) List(ctx context.Context, prefix string) ([]string, error) {
	for attempt := 1; ; attempt++ {
		keys, err := l.list(ctx, prefix)
		// fileblob reads a directory, then stats each entry: a temp file renamed into
		// place in between (another landing writing beside us) fails the listing with
		// NotFound. Listing again sees the file under its final name.
		if gcerrors.Code(err) == gcerrors.NotFound && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, errs.E(kindOf(err), "list "+prefix, err)
		}
		return keys, nil
	}
}

func (l *Lake) list(ctx context.Context, prefix string) ([]string, error) {
	if l.root != "" {
		if keys, ok := l.listLocal(prefix); ok {
			return keys, nil
		}
	}
	var keys []string
	it := l.Bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, err
		}
		if obj.IsDir || strings.Contains(filepath.Base(obj.Key), ".tmp") {
			continue
		}
		keys = append(keys, obj.Key)
	}
}

func kindOf(err error) errs.Kind {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return errs.NotFound
	case gcerrors.PermissionDenied:
		return errs.Permission
	case gcerrors.InvalidArgument:
		return errs.Invalid
	case gcerrors.Canceled:
		return errs.Canceled
	}
	return errs.Transient
}

// listLocal lists a file:// lake's keys under prefix from its directories, by name
// alone, as fileblob lists them (a directory it cannot read lists nothing), sorted.
// fileblob's listing also opens each file's attributes sidecar and stats the file,
// which a lake without sidecars does not need: every landing and transform lists its
// stream's manifests, so that cost grew with the stream's landings. ok is false when
// a name is one fileblob escaped ("__0x…"): fileblob then lists and unescapes it.
func (l *Lake) listLocal(prefix string) (keys []string, ok bool) {
	dir := l.root
	if i := strings.LastIndex(prefix, "/"); i > -1 {
		dir = filepath.Join(dir, filepath.FromSlash(prefix[:i]))
	}
	ok = true
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil || rel == "." {
			return nil
		}
		key := filepath.ToSlash(rel)
		if strings.Contains(key, "__0x") {
			ok = false
			return filepath.SkipAll
		}
		if d.IsDir() {
			if k := key + "/"; len(k) > len(prefix) && !strings.HasPrefix(k, prefix) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(key, prefix) && !strings.HasSuffix(key, ".attrs") && !strings.Contains(path.Base(key), ".tmp") {
			keys = append(keys, key)
		}
		return nil
	})
	slices.Sort(keys)
	return keys, ok
}
