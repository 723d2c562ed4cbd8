package host

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshflow/meshflow/framework/source"
)

// reloadSpecs replaces, in sources, each source built from a spec file (a REST or
// file-drop spec) by one that reads the file again from the checkout at root when it
// changed: a saved spec shows at the next landing, without a restart (mesh dev).
func reloadSpecs(root string, c Config, sources map[string]source.Source, log zerolog.Logger) {
	for _, conn := range Connectors() {
		src, ok := sources[conn.Name]
		if !ok || conn.SpecFile == "" || conn.Reload == nil {
			continue
		}
		sources[conn.Name] = &reloading{path: filepath.Join(root, filepath.FromSlash(conn.SpecFile)), conn: conn,
			values: c.Sources[conn.Name], src: src, log: log}
	}
}

// reloading is a spec-built source that builds itself again from its spec file when
// the file changed. A spec that no longer loads leaves the last good one in place, and
// the worker's log (and mesh dev's check of the save) says why.
type reloading struct {
	path   string
	conn   source.Connector
	values source.Values
	log    zerolog.Logger

	mu   sync.Mutex
	src  source.Source
	mod  time.Time // of the file the source was last built from; zero: the built-in spec
	size int64
}

func (r *reloading) current() source.Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	info, err := os.Stat(r.path)
	if err != nil || (info.ModTime().Equal(r.mod) && info.Size() == r.size) {
		return r.src
	}
	r.mod, r.size = info.ModTime(), info.Size()
	b, err := os.ReadFile(r.path)
	if err == nil {
		var c source.Connector
		if c, err = r.conn.Reload(b); err == nil {
			var src source.Source
			if src, err = c.Open(r.values); err == nil {
				r.src = src
				r.log.Info().Str("spec", r.path).Msg("source spec read again: the next landings use it")
				return src
			}
		}
	}
	r.log.Warn().Err(err).Str("spec", r.path).Msg("the source spec changed but does not load: landings keep the spec as it was")
	return r.src
}

func (r *reloading) Name() string                    { return r.conn.Name }
func (r *reloading) Streams() []source.Stream        { return r.current().Streams() }
func (r *reloading) Check(ctx context.Context) error { return r.current().Check(ctx) }
