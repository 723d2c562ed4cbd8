package peopledatalabs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// readParams collects a request's parameters: the query string (a repeated name
// becomes a list), then the JSON body, whose values win, as PDL documents.
func readParams(r *http.Request) (map[string]any, error) {
	params := map[string]any{}
	for k, vs := range r.URL.Query() {
		if len(vs) == 1 {
			params[k] = vs[0]
		} else {
			params[k] = vs
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return params, fmt.Errorf("could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return params, nil
	}
	var fromBody map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&fromBody); err != nil {
		return params, fmt.Errorf("The request body is not a valid JSON object: %v", err)
	}
	for k, v := range fromBody {
		params[k] = v
	}
	return params, nil
}

// str is a parameter as one trimmed string ("" when absent or not a scalar; a
// list gives its first element).
func (c *call) str(name string) string {
	switch v := c.params[name].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case []string:
		if len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
	case []any:
		if len(v) > 0 {
			if s, ok := v[0].(string); ok {
				return strings.TrimSpace(s)
			}
		}
	}
	return ""
}

// has reports whether the parameter was sent at all, even empty.
func (c *call) has(name string) bool { _, ok := c.params[name]; return ok }

// integer reads an integer parameter, def when absent.
func (c *call) integer(name string, def int) (int, error) {
	if !c.has(name) {
		return def, nil
	}
	s := c.str(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer, not %q", name, s)
	}
	return n, nil
}

// flag reads a boolean parameter ("true", true, "1").
func (c *call) flag(name string) bool {
	b, _ := strconv.ParseBool(c.str(name))
	return b
}
