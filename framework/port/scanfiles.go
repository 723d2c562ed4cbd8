package port

import (
	"context"
	"fmt"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/meshflow/meshflow/framework/errs"
)

// ScanFiles are the local files of one snapshot of a table, for a reader that applies
// its deletes itself (DuckDB reading the Parquet files, see transform.PortInput).
type ScanFiles struct {
	Data []string // local paths of the data files
	// Locations are the data files' locations as a position delete names them
	// (file://…, s3://…), in the order of Data.
	Locations []string
	// PositionDeletes are local paths of the position-delete files (columns file_path
	// and pos) that apply to the data files: a merge by key wrote them (MergeByKey).
	PositionDeletes []string
}

// LocalScan returns the files of snapshot asOf (0 = current) of a table, as planned
// by iceberg-go: data files that are not on the local filesystem (s3://…) are copied
// into dir through the table's FileIO, and the copies returned (the caller removes
// dir); with dir "" a remote file is an error. Equality deletes and deletion vectors,
// which no publish here writes, are refused.
func (c *Catalog) LocalScan(ctx context.Context, id TableID, asOf int64, dir string) (ScanFiles, error) {
	op := "port: data files of " + id.String()
	tbl, err := c.load(ctx, op, id)
	if err != nil {
		return ScanFiles{}, err
	}
	if asOf == 0 && tbl.CurrentSnapshot() == nil {
		return ScanFiles{}, nil
	}
	scan, err := scanAt(tbl, asOf)
	if err != nil {
		return ScanFiles{}, errs.E(errs.KindOf(err), op, err)
	}
	defer scan.Close()
	tasks, err := scan.PlanFiles(ctx)
	if err != nil {
		return ScanFiles{}, errs.E(kindOf(err), op, err)
	}
	var out ScanFiles
	var fsys icebergio.IO // the warehouse's IO, opened for the first remote file
	local := func(loc string) (string, error) {
		if p, ok := localPath(loc); ok {
			return p, nil
		}
		if dir == "" {
			return "", errs.Errorf(errs.Invalid, op, "data file %s is not on the local filesystem: read it with LocalDataFiles", loc)
		}
		if fsys == nil {
			if fsys, err = tbl.FS(ctx); err != nil {
				return "", errs.E(errs.Transient, op, fmt.Errorf("open the warehouse of %s: %w", loc, err))
			}
		}
		return copyDataFile(op, fsys, loc, dir)
	}
	seen := map[string]bool{} // a file planned in several splits is listed once
	for _, t := range tasks {
		if n := len(t.EqualityDeleteFiles) + len(t.DeletionVectorFiles); n > 0 {
			return ScanFiles{}, errs.Errorf(errs.Invalid, op, "data file %s has %d equality deletes or deletion vectors, which only iceberg-go's scan reads (port.ReadAll)", t.File.FilePath(), n)
		}
		if loc := t.File.FilePath(); !seen[loc] {
			seen[loc] = true
			p, err := local(loc)
			if err != nil {
				return ScanFiles{}, err
			}
			out.Data, out.Locations = append(out.Data, p), append(out.Locations, loc)
		}
		for _, d := range t.DeleteFiles {
			if loc := d.FilePath(); !seen[loc] {
				seen[loc] = true
				p, err := local(loc)
				if err != nil {
					return ScanFiles{}, err
				}
				out.PositionDeletes = append(out.PositionDeletes, p)
			}
		}
	}
	return out, nil
}
