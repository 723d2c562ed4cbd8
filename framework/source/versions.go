package source

// Versions is the dedupe state an incremental connector keeps in its cursor: the
// version (modified time, epoch ms) of each record landed within the lookback of the
// stream's high-water mark. A sync re-reads that lookback window because search indexes
// lag writes; a record seen before at the same version is dropped, so the overlap costs
// requests, never duplicates. JSON-encoded it is a plain {"id": version} object.
type Versions map[string]int64

// Landed reports whether id was landed at version or later.
func (v Versions) Landed(id string, version int64) bool {
	have, ok := v[id]
	return ok && have >= version
}

// Prune forgets versions older than below: once the mark has passed them by more than
// the lookback, no later sync can meet them again.
func (v Versions) Prune(below int64) {
	for id, version := range v {
		if version < below {
			delete(v, id)
		}
	}
}

// MergeVersions returns the newest version of each id across sets, or nil when empty
// (so an idle cursor stays small).
func MergeVersions(sets ...Versions) Versions {
	out := Versions{}
	for _, s := range sets {
		for id, version := range s {
			out[id] = max(out[id], version)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
