package files

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/xuri/excelize/v2"
)

// table is a file as read: its header and its rows, each cell a string, a
// json.Number, a bool, a time.Time or nil.
type table struct {
	header []string
	rows   []row
	// serialDates: numbers in date and timestamp columns are spreadsheet serial
	// dates (an .xlsx cell formatted as a date holds its serial number).
	serialDates bool
}

type row struct {
	num   int // see ColRow
	cells []any
}

// read parses data in format; sheet names an .xlsx sheet ("" = the first). An error
// says what in the file cannot be read, by row where it can.
func read(format string, data []byte, sheet string) (*table, error) {
	switch format {
	case CSV:
		return readDelimited(data, ',')
	case TSV:
		return readDelimited(data, '\t')
	case JSONL:
		return readJSONL(data)
	case Parquet:
		return readParquet(data)
	case XLSX:
		return readXLSX(data, sheet)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// readDelimited reads CSV (RFC 4180: quoted fields may hold the delimiter and line
// breaks) or TSV. A UTF-8 byte-order mark, which Excel writes, is dropped.
func readDelimited(data []byte, comma rune) (*table, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.Comma = comma
	r.FieldsPerRecord = -1 // a ragged row is named below, with its line
	r.ReuseRecord = false
	t := &table{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err // csv.ParseError names the line and column
		}
		line, _ := r.FieldPos(0)
		if t.header == nil {
			t.header = rec
			continue
		}
		if blank(rec) {
			continue
		}
		if len(rec) > len(t.header) && !blank(rec[len(t.header):]) {
			return nil, fmt.Errorf("line %d has %d fields, the header %d", line, len(rec), len(t.header))
		}
		cells := make([]any, len(t.header))
		for i := range cells {
			if i < len(rec) {
				cells[i] = rec[i]
			}
		}
		t.rows = append(t.rows, row{num: line, cells: cells})
	}
	if t.header == nil {
		return nil, errors.New("the file is empty: the first line must be the header")
	}
	return t, nil
}

func blank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// readJSONL reads one JSON object a line. Its header is every key, in the order
// first met; a record without a key has nil there.
func readJSONL(data []byte) (*table, error) {
	t := &table{}
	index := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), len(data)+1)
	var objs []map[string]any
	var lines []int
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, fmt.Errorf("line %d is not a JSON object: %v", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("line %d holds more than one JSON value", line)
		}
		// Keys in the line's own order, which a map forgets.
		keys, err := objectKeys(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		for _, k := range keys {
			if _, ok := index[k]; !ok {
				index[k] = len(t.header)
				t.header = append(t.header, k)
			}
		}
		objs, lines = append(objs, obj), append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, obj := range objs {
		cells := make([]any, len(t.header))
		for k, v := range obj {
			switch v.(type) {
			case map[string]any, []any:
				b, _ := json.Marshal(v) // nested values are kept as JSON text
				v = string(b)
			}
			cells[index[k]] = v
		}
		t.rows = append(t.rows, row{num: lines[i], cells: cells})
	}
	return t, nil
}

// objectKeys are the top-level keys of a JSON object, in order.
func objectKeys(obj []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// readParquet reads a Parquet file's columns by name; its rows are numbered from 1.
func readParquet(data []byte) (*table, error) {
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, err
	}
	defer tbl.Release()
	t := &table{}
	for _, f := range tbl.Schema().Fields() {
		t.header = append(t.header, f.Name)
	}
	n := int(tbl.NumRows())
	for i := range n {
		t.rows = append(t.rows, row{num: i + 1, cells: make([]any, len(t.header))})
	}
	for c := range t.header {
		i := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j, i = j+1, i+1 {
				t.rows[i].cells[c] = parquetValue(chunk, j)
			}
		}
	}
	return t, nil
}

// parquetValue is one Parquet value as a cell: times as time.Time, numbers as
// json.Number, text as it is.
func parquetValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch x := a.(type) {
	case *array.Timestamp:
		unit := x.DataType().(*arrow.TimestampType).Unit
		return x.Value(i).ToTime(unit).UTC()
	case *array.Date32:
		return x.Value(i).ToTime().UTC()
	case *array.Date64:
		return x.Value(i).ToTime().UTC()
	case *array.Boolean:
		return x.Value(i)
	case *array.String:
		return x.Value(i)
	case *array.LargeString:
		return x.Value(i)
	case *array.Float32:
		return json.Number(strconv.FormatFloat(float64(x.Value(i)), 'g', -1, 32))
	case *array.Float64:
		return json.Number(strconv.FormatFloat(x.Value(i), 'g', -1, 64))
	}
	return a.ValueStr(i) // integers, decimals
}

// readXLSX reads a sheet's cells as stored (a date as its serial number, a number
// unformatted), its rows numbered as Excel shows them.
func readXLSX(data []byte, sheet string) (*table, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an .xlsx workbook: %v", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if sheet == "" && len(sheets) > 0 {
		sheet = sheets[0]
	}
	idx, err := f.GetSheetIndex(sheet)
	if err != nil || idx < 0 {
		return nil, fmt.Errorf("has no sheet %q (its sheets: %s)", sheet, strings.Join(sheets, ", "))
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	t := &table{serialDates: true}
	for n := 1; rows.Next(); n++ {
		rec, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("row %d: %v", n, err)
		}
		if t.header == nil {
			if blank(rec) {
				continue // a title row left empty above the header
			}
			t.header = rec
			continue
		}
		if blank(rec) {
			continue
		}
		if len(rec) > len(t.header) && !blank(rec[len(t.header):]) {
			return nil, fmt.Errorf("row %d has values right of the header's last column", n)
		}
		cells := make([]any, len(t.header))
		for i := range cells {
			if i < len(rec) {
				cells[i] = rec[i]
			}
		}
		t.rows = append(t.rows, row{num: n, cells: cells})
	}
	if err := rows.Error(); err != nil {
		return nil, err
	}
	if t.header == nil {
		return nil, fmt.Errorf("sheet %q is empty: its first row must be the header", sheet)
	}
	return t, nil
}

// serialDate reads an .xlsx serial date (days since 1899-12-30, a fraction for the
// time) as UTC; ok is false when s is not a number.
func serialDate(s string) (time.Time, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f > 2958465 { // 9999-12-31
		return time.Time{}, false
	}
	t, err := excelize.ExcelDateToTime(f, false)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC().Round(time.Millisecond), true
}
