package flow

import (
	"context"
	"database/sql"
	"net/url"
	"path"

	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/mesh"
	"github.com/meshflow/meshflow/framework/quality"
	"github.com/meshflow/meshflow/framework/transform"
)

// FailingRowsKey is where a run keeps what one of its checks found (quality.FailingRows).
// It lies beside runs/ rather than under it: every key under runs/<domain>/<product>/
// is a run record, and the newest of them is the latest run.
func FailingRowsKey(domain, product, runID, check string) string {
	return path.Join("failing", domain, product, runID, url.PathEscape(check)+".json")
}

// keepFailingRows writes, for each check of results that failed or warned, a bounded
// sample of its offending rows in the staged model (in primary-key order) and the SQL
// that finds them all in the port, and points the result at it. Only that pointer and
// the count go back to the workflow: rows never enter its history.
func (a *Activities) keepFailingRows(ctx context.Context, in CheckInput, d mesh.Domain, p mesh.Product, staged string, results []quality.Result) error {
	if in.RunID == "" {
		return nil // a legacy major's checks, which the run record does not keep
	}
	checks := map[string]mesh.Check{}
	for _, c := range p.AllChecks() {
		checks[c.Name] = c
	}
	var model *sql.DB // opened at the first check with rows to sample
	defer func() {
		if model != nil {
			model.Close()
		}
	}()
	for i, r := range results {
		c, ok := checks[r.Name]
		if r.Status == mesh.StatusPass || !ok {
			continue
		}
		if model == nil {
			var err error
			if model, err = transform.Open(ctx, "", 0); err != nil {
				return err
			}
			if _, err := model.ExecContext(ctx, "CREATE VIEW model AS SELECT * FROM read_parquet("+quality.Literal(staged)+")"); err != nil {
				return errs.E(errs.Internal, "open staged model", err)
			}
		}
		rows, err := quality.Sample(ctx, model, c, p.PrimaryKey, quality.SampleLimit)
		if err != nil {
			// The check itself ran; its verdict stands without a sample.
			a.Log.Warn().Err(err).Str("product", d.Name+"."+p.Name).Str("check", c.Name).Msg("no sample of the offending rows")
			rows = quality.FailingRows{Check: c.Name, Kind: string(c.Kind), SampleError: err.Error()}
		}
		rows.Failing = r.Failing
		rows.SQL = quality.PortSQL(c, d.Name+"."+p.PortName(), p.PartitionBy, in.Partition)
		key := FailingRowsKey(d.Name, p.Name, in.RunID, c.Name)
		if err := a.Lake.PutJSON(ctx, key, rows); err != nil {
			return err
		}
		results[i].RowsKey, results[i].Sampled = key, len(rows.Rows)
	}
	return nil
}
