// Package bucket imitates the part of Amazon S3's REST API a reader of dropped files
// uses — list a prefix (ListObjectsV2), read an object's attributes (HeadObject) and
// its bytes (GetObject) — over objects held in memory, path-style (/<bucket>/<key>).
// gocloud's s3blob reads it with endpoint=<its URL>, use_path_style=true and
// anonymous=true, so a file-drop source runs against real HTTP in demos, tests and
// docker compose, where a directory of the sandbox's would be out of the workers'
// reach. Another bucket name answers 403 AccessDenied, as S3 does to a reader
// without access to it.
package bucket

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// API is one bucket of objects.
type API struct {
	name     string
	now      func() time.Time
	handler  http.Handler
	requests atomic.Int64

	mu      sync.Mutex
	objects map[string]object
}

type object struct {
	data     []byte
	etag     string // the quoted hex MD5, as S3 gives a single-part upload
	crc32    string // base64 of the big-endian CRC-32, S3's default checksum since 2025
	modified time.Time
}

// New returns an empty bucket called name; now is its clock (each Put's
// LastModified) [time.Now]; wrap, when set, wraps its routes (the sandbox's faults).
func New(name string, now func() time.Time, wrap func(http.Handler) http.Handler) *API {
	if now == nil {
		now = time.Now
	}
	a := &API{name: name, now: now, objects: map[string]object{}}
	a.handler = http.HandlerFunc(a.route)
	if wrap != nil {
		a.handler = wrap(a.handler)
	}
	return a
}

// Name is the bucket's name.
func (a *API) Name() string { return a.name }

// Put stores data at key, LastModified now: a file dropped, or dropped again.
func (a *API) Put(key string, data []byte) {
	sum := md5.Sum(data)
	a.mu.Lock()
	defer a.mu.Unlock()
	// S3 keeps LastModified to the second in listings; a clock that did not move
	// still makes a re-drop the newest.
	mod := a.now().UTC().Truncate(time.Second)
	if old, ok := a.objects[key]; ok && !mod.After(old.modified) {
		mod = old.modified.Add(time.Second)
	}
	crc := binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	a.objects[key] = object{data: slices.Clone(data), etag: `"` + hex.EncodeToString(sum[:]) + `"`,
		crc32: base64.StdEncoding.EncodeToString(crc), modified: mod}
}

// Delete removes key.
func (a *API) Delete(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.objects, key)
}

// Keys are the keys held, sorted.
func (a *API) Keys() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys := make([]string, 0, len(a.objects))
	for k := range a.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Requests counts the requests answered, faulted ones included.
func (a *API) Requests() int { return int(a.requests.Load()) }

// ServeHTTP serves the bucket's API.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.requests.Add(1)
	a.handler.ServeHTTP(w, r)
}

// SlowDown writes S3's answer to a client past its request rate: 503 SlowDown.
func SlowDown(w http.ResponseWriter, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds()+0.5)))
	}
	writeError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
}

func (a *API) route(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case bucket != a.name:
		writeError(w, http.StatusForbidden, "AccessDenied", "Access Denied")
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The sandbox's buckets are read-only.")
	case key == "":
		a.list(w, r)
	default:
		a.get(w, r, key)
	}
}

func (a *API) get(w http.ResponseWriter, r *http.Request, key string) {
	a.mu.Lock()
	o, ok := a.objects[key]
	a.mu.Unlock()
	if !ok {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		writeError(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	h := w.Header()
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	h.Set("x-amz-checksum-crc32", o.crc32) // the SDK checks what it reads against it
	if r.Method == http.MethodHead {
		return
	}
	w.Write(o.data)
}

// listResult is ListObjectsV2's answer.
type listResult struct {
	XMLName               xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string    `xml:"Name"`
	Prefix                string    `xml:"Prefix"`
	KeyCount              int       `xml:"KeyCount"`
	MaxKeys               int       `xml:"MaxKeys"`
	IsTruncated           bool      `xml:"IsTruncated"`
	Contents              []content `xml:"Contents"`
	CommonPrefixes        []prefix  `xml:"CommonPrefixes,omitempty"`
	ContinuationToken     string    `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string    `xml:"NextContinuationToken,omitempty"`
}

type content struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

type prefix struct {
	Prefix string `xml:"Prefix"`
}

// list answers ListObjectsV2: keys after the continuation token (the last key of
// the previous page), at most max-keys, folded at the delimiter.
func (a *API) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("list-type") != "2" {
		writeError(w, http.StatusNotImplemented, "NotImplemented", "The sandbox lists with ListObjectsV2 (list-type=2) only.")
		return
	}
	pfx, delim, after := q.Get("prefix"), q.Get("delimiter"), q.Get("continuation-token")
	maxKeys := 1000
	if n, err := strconv.Atoi(q.Get("max-keys")); err == nil && n > 0 && n < maxKeys {
		maxKeys = n
	}
	res := listResult{Name: a.name, Prefix: pfx, MaxKeys: maxKeys, ContinuationToken: after}
	seenPrefix := map[string]bool{}
	a.mu.Lock()
	keys := make([]string, 0, len(a.objects))
	for k := range a.objects {
		if strings.HasPrefix(k, pfx) && k > after {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if res.KeyCount == maxKeys {
			res.IsTruncated, res.NextContinuationToken = true, lastKey(res)
			break
		}
		if delim != "" {
			if i := strings.Index(k[len(pfx):], delim); i >= 0 {
				p := k[:len(pfx)+i+len(delim)]
				if !seenPrefix[p] {
					seenPrefix[p] = true
					res.CommonPrefixes = append(res.CommonPrefixes, prefix{p})
					res.KeyCount++
				}
				continue
			}
		}
		o := a.objects[k]
		res.Contents = append(res.Contents, content{Key: k, LastModified: o.modified.Format("2006-01-02T15:04:05.000Z"), ETag: o.etag, Size: len(o.data), StorageClass: "STANDARD"})
		res.KeyCount++
	}
	a.mu.Unlock()
	writeXML(w, http.StatusOK, res)
}

// lastKey is the last key or common prefix a listing page holds.
func lastKey(res listResult) string {
	last := ""
	if n := len(res.Contents); n > 0 {
		last = res.Contents[n-1].Key
	}
	if n := len(res.CommonPrefixes); n > 0 && res.CommonPrefixes[n-1].Prefix > last {
		// Every key under the prefix is past it: continue after them all.
		last = res.CommonPrefixes[n-1].Prefix + "\xff"
	}
	return last
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: code, Message: msg})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprint(err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}
