package pendo_test

import "github.com/meshflow/meshflow/framework/secret"

func secretOf(s string) secret.Value { return secret.Value(s) }
