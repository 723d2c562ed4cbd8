package rest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshflow/meshflow/connectors/rest"
	"github.com/meshflow/meshflow/framework/errs"
	"github.com/meshflow/meshflow/framework/source"
)

// A token endpoint that refuses a wrong key with another status than 400, 401 or
// 403 (Looker's /login answers 404) names the credentials when the spec lists that
// status under auth.refused; without it the 404 reads as a wrong request.
func TestAuthRefusedStatusesAreBadCredentials(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Not found","documentation_url":"https://example.com/docs"}`))
	}))
	defer ts.Close()
	for _, c := range []struct {
		refused string
		kind    errs.Kind
	}{{"\n  refused: [404]", errs.Permission}, {"", errs.Invalid}} {
		spec, err := rest.Parse("login.yaml", []byte(`source: login
title: Login
base_url: https://login.example.com/api
variables:
  LOGIN_CLIENT_ID: {doc: Client id, credential: true}
  LOGIN_CLIENT_SECRET: {doc: Client secret, secret: true, how: copy the API key's secret}
auth:
  type: oauth2_client_credentials
  token_url: /login
  client_id: ${LOGIN_CLIENT_ID}
  client_secret: ${LOGIN_CLIENT_SECRET}
  auth_style: params`+c.refused+`
streams:
  things:
    doc: Things.
    request: {path: /things}
    records: .
    primary_key: [id]
    fields:
      id: {type: string, doc: Its id.}
`))
		if err != nil {
			t.Fatal(err)
		}
		src, err := spec.New(source.Values{"LOGIN_BASE_URL": ts.URL + "/api", "LOGIN_CLIENT_ID": "id", "LOGIN_CLIENT_SECRET": "s3cr3t-s3cr3t"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := source.Lookup(src, "things")
		_, err = st.NextPage(context.Background(), source.PageRequest{SyncStart: time.Now()})
		if !errs.Is(err, c.kind) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("refused %q: %v, want kind %s", c.refused, err, c.kind)
		}
		if c.kind == errs.Permission && !strings.Contains(err.Error(), "LOGIN_CLIENT_SECRET (copy the API key's secret)") {
			t.Errorf("the error does not name the credentials: %v", err)
		}
	}
	_, err := rest.Parse("bad.yaml", []byte("source: bad\ntitle: Bad\nbase_url: https://x.example.com\nvariables:\n  BAD_ID: {doc: Id, credential: true}\n  BAD_SECRET: {doc: Secret, secret: true}\nauth:\n  type: oauth2_client_credentials\n  token_url: /login\n  client_id: ${BAD_ID}\n  client_secret: ${BAD_SECRET}\n  refused: [200]\nstreams:\n  things:\n    doc: Things.\n    request: {path: /things}\n    records: .\n    primary_key: [id]\n    fields:\n      id: {type: string, doc: Its id.}\n"))
	if err == nil || !strings.Contains(err.Error(), `bad.yaml:12: auth.refused: "200" is not an HTTP status from 400 to 499`) {
		t.Errorf("refused: [200] parsed: %v", err)
	}
}
