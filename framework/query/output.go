package query

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxCell is the widest a table cell gets; the table is for reading, CSV and JSON
// carry whole values.
const maxCell = 60

// WriteTable writes the result as an aligned text table, numbers aligned right, NULL
// as NULL, followed by the row count.
func (r *Result) WriteTable(w io.Writer) error {
	cells := make([][]string, 0, len(r.Rows)+1)
	head := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		head[i] = cell(c.Name)
	}
	cells = append(cells, head)
	for _, row := range r.Rows {
		line := make([]string, len(row))
		for i, v := range row {
			s, null := r.text(i, v)
			if null {
				s = "NULL"
			}
			line[i] = cell(s)
		}
		cells = append(cells, line)
	}
	width := make([]int, len(r.Columns))
	for _, line := range cells {
		for i, s := range line {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	bw := bufio.NewWriter(w)
	for n, line := range cells {
		for i, s := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if i > 0 {
				bw.WriteString("  ")
			}
			switch {
			case n > 0 && numeric(r.Columns[i].Type):
				bw.WriteString(pad + s)
			case i == len(line)-1:
				bw.WriteString(s) // no trailing blanks
			default:
				bw.WriteString(s + pad)
			}
		}
		bw.WriteByte('\n')
	}
	switch {
	case r.Truncated:
		fmt.Fprintf(bw, "(first %d rows; there are more)\n", len(r.Rows))
	case len(r.Rows) == 1:
		bw.WriteString("(1 row)\n")
	default:
		fmt.Fprintf(bw, "(%d rows)\n", len(r.Rows))
	}
	return bw.Flush()
}

// cell makes a value fit one line of the table, with its control characters shown.
func cell(s string) string {
	s = Printable(s)
	if utf8.RuneCountInString(s) > maxCell {
		s = string([]rune(s)[:maxCell-1]) + "…"
	}
	return s
}

// Printable returns s with what a terminal would act on instead of showing written as
// Go escapes: control characters (ESC as \x1b, newline as \n, tab as \t, ...), Unicode's
// C1 controls and bidirectional overrides (\u202e), and bytes that are not UTF-8
// (\xff). Data printed through it cannot move the cursor, recolour or clear the
// screen, set the window title or reorder what is shown; CSV, JSON and Parquet keep
// values exact instead.
func Printable(s string) string {
	if strings.IndexFunc(s, unprintable) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unprintable(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unprintable(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unprintable is a rune a terminal acts on: C0 and C1 controls, DEL, and the
// bidirectional embeddings, overrides and isolates.
func unprintable(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func numeric(typ string) bool {
	switch typ {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return strings.HasPrefix(typ, "DECIMAL(")
}

// WriteCSV writes the result as CSV with a header row; NULL is an empty field.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		rec[i] = c.Name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for _, row := range r.Rows {
		for i, v := range row {
			rec[i], _ = r.text(i, v)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the result as a JSON array with one object per row, keys in column
// order, values typed: numbers, booleans, strings, null; dates as "YYYY-MM-DD",
// timestamps as RFC 3339 in UTC; lists and structs as DuckDB's to_json makes them.
func (r *Result) WriteJSON(w io.Writer) error {
	keys := make([][]byte, len(r.Columns))
	for i, c := range r.Columns {
		keys[i] = jsonString(c.Name)
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("[")
	for n, row := range r.Rows {
		if n > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  {")
		for i, v := range row {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.Write(keys[i])
			bw.WriteString(": ")
			bw.Write(r.jsonValue(i, v))
		}
		bw.WriteString("}")
	}
	if len(r.Rows) > 0 {
		bw.WriteString("\n")
	}
	bw.WriteString("]\n")
	return bw.Flush()
}

// text formats value v of column i as DuckDB would print it.
func (r *Result) text(i int, v any) (s string, null bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case bool:
		return strconv.FormatBool(v), false
	case int64:
		return strconv.FormatInt(v, 10), false
	case uint64:
		return strconv.FormatUint(v, 10), false
	case float32:
		return formatFloat(float64(v), 32), false
	case float64:
		return formatFloat(v, 64), false
	case Number:
		return string(v), false
	case string:
		return v, false
	case time.Time:
		switch r.Columns[i].Type {
		case "DATE":
			return v.Format("2006-01-02"), false
		case "TIME":
			return v.Format("15:04:05.999999"), false
		case "TIMESTAMP WITH TIME ZONE":
			return v.Format("2006-01-02 15:04:05.999999999") + "+00", false
		}
		return v.Format("2006-01-02 15:04:05.999999999"), false
	case Rendered:
		return v.Text, false
	}
	return fmt.Sprint(v), false
}

func (r *Result) jsonValue(i int, v any) []byte {
	switch v := v.(type) {
	case nil:
		return []byte("null")
	case bool, int64, uint64:
		return fmt.Append(nil, v)
	case float32, float64:
		f, bits := toFloat(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// JSON has no NaN or infinity; a string keeps the value visible.
			s, _ := r.text(i, v)
			return jsonString(s)
		}
		return []byte(formatFloat(f, bits))
	case Number:
		return []byte(v)
	case time.Time:
		if t := r.Columns[i].Type; t == "DATE" || t == "TIME" {
			s, _ := r.text(i, v)
			return jsonString(s)
		}
		return jsonString(v.Format(time.RFC3339Nano))
	case Rendered:
		if json.Valid([]byte(v.JSON)) {
			return []byte(v.JSON)
		}
		return jsonString(v.Text)
	}
	s, _ := r.text(i, v)
	return jsonString(s)
}

func toFloat(v any) (float64, int) {
	if f, ok := v.(float32); ok {
		return float64(f), 32
	}
	return v.(float64), 64
}

// formatFloat writes plain decimals for everyday magnitudes and exponents beyond.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0 || (math.Abs(f) >= 1e-4 && math.Abs(f) < 1e15):
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// jsonString encodes s as a JSON string without HTML escaping.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
