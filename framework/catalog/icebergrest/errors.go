package icebergrest

import (
	"encoding/json"
	"net/http"

	"github.com/meshflow/meshflow/framework/access"
	"github.com/meshflow/meshflow/framework/errs"
)

// errorResponse is the spec's IcebergErrorResponse, the body of every non-2xx answer
// but the token endpoint's: {"error": {"message", "type", "code"}}. Clients pick the
// exception to raise by type and code.
type errorResponse struct {
	Error errorModel `json:"error"`
}

type errorModel struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    int    `json:"code"`
}

// bearerChallenge answers a 401 (RFC 6750).
const bearerChallenge = `Bearer realm="meshflow iceberg catalog"`

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", bearerChallenge)
	}
	writeJSON(w, status, errorResponse{Error: errorModel{Message: msg, Type: typ, Code: status}})
}

// fail answers err as an ErrorModel: an access refusal with its own 401 or 403, other
// errors by kind. notFound is the exception type of a NotFound error, which the spec
// names per route (NoSuchNamespaceException, NoSuchTableException).
func fail(w http.ResponseWriter, err error, notFound string) {
	switch access.HTTPStatus(err) {
	case http.StatusUnauthorized:
		writeError(w, http.StatusUnauthorized, "NotAuthorizedException", err.Error())
		return
	case http.StatusForbidden:
		writeError(w, http.StatusForbidden, "ForbiddenException", err.Error())
		return
	}
	switch errs.KindOf(err) {
	case errs.NotFound:
		if notFound == "" {
			notFound = "NotFoundException"
		}
		writeError(w, http.StatusNotFound, notFound, err.Error())
	case errs.Invalid:
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
	case errs.Permission:
		writeError(w, http.StatusForbidden, "ForbiddenException", err.Error())
	case errs.Transient, errs.RateLimited:
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
	}
}

// unsupported answers every route the server does not serve: a write (the catalog is
// read-only; the ports change only by their products' runs) with 501, which clients
// raise as UnsupportedOperationException, and an unknown route with 404.
func unsupported(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusNotImplemented, "UnsupportedOperationException",
			r.Method+" "+r.URL.Path+": the mesh's Iceberg catalog is read-only; ports change only when their products run (mesh run)")
		return
	}
	writeError(w, http.StatusNotFound, "NotFoundException",
		r.URL.Path+" is not a route of this catalog: GET /v1/config lists the endpoints it serves")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorResponse{Error: errorModel{Message: "encode the answer: " + err.Error(), Type: "InternalServerError", Code: status}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
