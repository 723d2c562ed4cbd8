package transform

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/meshflow/meshflow/framework/errs"
)

// rowLocalSQL reports whether an SQL check's query judges each row by itself alone,
// the same way at any time: SELECT * FROM model WHERE a condition on the row's own
// columns, of deterministic scalar functions — no aggregate, window, subquery, other
// table, DISTINCT, LIMIT, or function of the clock or chance. A row such a check
// passed passes it again in any later snapshot that keeps the row unchanged, which is
// what lets a merge check only its changed rows. DuckDB parses the query
// (json_serialize_sql); anything the parse does not show plainly is not row-local.
func rowLocalSQL(ctx context.Context, db *sql.DB, query string) (bool, error) {
	var js string
	if err := db.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", query).Scan(&js); err != nil {
		return false, errs.E(errs.Internal, "parse a check's SQL", err)
	}
	var parsed struct {
		Error      bool `json:"error"`
		Statements []struct {
			Node struct {
				Type       string                          `json:"type"`
				Modifiers  []json.RawMessage               `json:"modifiers"`
				CTEs       struct{ Map []json.RawMessage } `json:"cte_map"`
				SelectList []map[string]any                `json:"select_list"`
				From       map[string]any                  `json:"from_table"`
				Where      any                             `json:"where_clause"`
				Group      []json.RawMessage               `json:"group_expressions"`
				GroupSets  []json.RawMessage               `json:"group_sets"`
				Having     any                             `json:"having"`
				Sample     any                             `json:"sample"`
				Qualify    any                             `json:"qualify"`
			} `json:"node"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(js), &parsed); err != nil {
		return false, errs.E(errs.Internal, "parse a check's SQL", err)
	}
	if parsed.Error || len(parsed.Statements) != 1 {
		return false, nil
	}
	n := parsed.Statements[0].Node
	if n.Type != "SELECT_NODE" || len(n.Modifiers) > 0 || len(n.CTEs.Map) > 0 || len(n.Group) > 0 || len(n.GroupSets) > 0 ||
		n.Having != nil || n.Sample != nil || n.Qualify != nil || len(n.SelectList) != 1 {
		return false, nil
	}
	star := n.SelectList[0]
	if star["class"] != "STAR" || star["expr"] != nil || star["columns"] != false || !empty(star["exclude_list"]) ||
		!empty(star["replace_list"]) || !empty(star["rename_list"]) || !empty(star["qualified_exclude_list"]) {
		return false, nil
	}
	f := n.From
	if f["type"] != "BASE_TABLE" || !strings.EqualFold(str(f["table_name"]), "model") || str(f["schema_name"]) != "" ||
		str(f["catalog_name"]) != "" || f["sample"] != nil || f["at_clause"] != nil {
		return false, nil
	}
	return rowExpression(n.Where), nil
}

// rowExpression reports whether every expression in v (a parsed WHERE clause, nil for
// none) is one that rowLocalSQL allows.
func rowExpression(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if class, ok := v["class"].(string); ok {
			switch class {
			case "CONJUNCTION", "COMPARISON", "OPERATOR", "CONSTANT", "CAST", "BETWEEN", "CASE":
			case "COLUMN_REF":
				// current_date and its kin parse as column names, bound to the clock later.
				if names, _ := v["column_names"].([]any); len(names) == 1 && clockWords[strings.ToLower(str(names[0]))] {
					return false
				}
			case "FUNCTION":
				if schema := str(v["schema"]); !deterministic[strings.ToLower(str(v["function_name"]))] || v["distinct"] == true || v["filter"] != nil ||
					(schema != "" && schema != "main") {
					return false
				}
			default: // SUBQUERY, WINDOW, LAMBDA, PARAMETER, STAR…
				return false
			}
		}
		for _, child := range v {
			if !rowExpression(child) {
				return false
			}
		}
	case []any:
		for _, child := range v {
			if !rowExpression(child) {
				return false
			}
		}
	}
	return true
}

// deterministic are the scalar functions and operators a row-local check may call: each
// gives the same answer for the same arguments. Aggregates (count, max…), and now(),
// current_date, random() and the like, are not here.
var deterministic = map[string]bool{
	"~~": true, "!~~": true, "~~*": true, "!~~*": true, "+": true, "-": true, "*": true, "/": true, "//": true, "%": true, "||": true,
	"lower": true, "upper": true, "length": true, "strlen": true, "trim": true, "ltrim": true, "rtrim": true, "substring": true, "substr": true,
	"concat": true, "replace": true, "split_part": true, "starts_with": true, "ends_with": true, "contains": true, "prefix": true, "suffix": true,
	"regexp_matches": true, "regexp_full_match": true, "like_escape": true, "abs": true, "round": true, "floor": true, "ceil": true,
	"greatest": true, "least": true, "nullif": true, "date_diff": true, "datediff": true, "date_part": true, "datepart": true,
	"date_trunc": true, "datetrunc": true, "year": true, "month": true, "day": true, "hour": true, "epoch": true, "isnan": true, "isinf": true,
}

// clockWords are the keywords DuckDB parses as a column and binds to the clock or the session.
var clockWords = map[string]bool{
	"current_date": true, "current_time": true, "current_timestamp": true, "localtime": true, "localtimestamp": true,
	"current_user": true, "current_role": true, "session_user": true, "user": true, "current_catalog": true, "current_schema": true,
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []any:
		return len(v) == 0
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
