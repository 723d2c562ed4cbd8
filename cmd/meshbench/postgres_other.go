//go:build !unix

package main

import (
	"context"

	"github.com/meshflow/meshflow/framework/errs"
)

// pgTarget is the throwaway cluster of the postgres section, which needs dev/pgcluster (unix).
type pgTarget struct{}

func postgresBench(context.Context, options, string, func(string, ...any)) ([]Row, string, error) {
	return nil, "postgres: skipped: the throwaway PostgreSQL cluster (dev/pgcluster) runs on unix only", nil
}

func pgJob(_ context.Context, j job) (result, error) {
	return result{}, errs.Errorf(errs.Invalid, "meshbench: "+j.Kind, "the postgres section runs on unix only")
}
