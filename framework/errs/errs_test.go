package errs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err   error
		kind  Kind
		retry bool
	}{
		{E(Permission, "hubspot: list contacts", errors.New("401")), Permission, false},
		{fmt.Errorf("land: %w", E(Invalid, "op", errors.New("bad"))), Invalid, false},
		{&Error{Kind: Quota, Until: time.Now()}, Quota, true},
		{fmt.Errorf("get: %w", context.Canceled), Canceled, false},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), Transient, true},
		{errors.New("boom"), Internal, true},
	} {
		if got := KindOf(tc.err); got != tc.kind {
			t.Errorf("KindOf(%v) = %s, want %s", tc.err, got, tc.kind)
		}
		if got := Retryable(tc.err); got != tc.retry {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.retry)
		}
	}
	if got := E(Invalid, "declare", errors.New("no owner")).Error(); got != "declare: no owner" {
		t.Errorf("message = %q", got)
	}
}
