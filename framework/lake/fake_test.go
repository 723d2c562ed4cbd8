package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/meshflow/meshflow/framework/source"
)

// fakeStream serves n contact-like records in pages of size, cursor = next offset.
type fakeStream struct {
	n, size int
	failAt  int // offset whose page fails once with a malformed record (0 = never)
}

var fakeFields = []source.Field{
	{Name: "id", Type: source.String, Path: []string{"id"}, Doc: "id"},
	{Name: "email", Type: source.String, Path: []string{"properties", "email"}, Doc: "email"},
	{Name: "score", Type: source.Int64, Path: []string{"properties", "score"}, Doc: "score"},
	{Name: "amount", Type: source.Float64, Path: []string{"properties", "amount"}, Doc: "amount"},
	{Name: "active", Type: source.Bool, Path: []string{"active"}, Doc: "active"},
	{Name: "updated_at", Type: source.Timestamp, Path: []string{"updatedAt"}, Doc: "updated"},
}

func (f *fakeStream) Spec() source.StreamSpec {
	return source.StreamSpec{Name: "contacts", Fields: fakeFields, PrimaryKey: []string{"id"}, CursorField: "updated_at"}
}

func fakeRecord(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":"%d","properties":{"email":"user%d@example.test","score":"%d","amount":"%d.5"},"active":%t,"updatedAt":"2024-03-02T09:15:%02d.120Z"}`, i, i, i*3, i, i%2 == 0, i%60))
}

func (f *fakeStream) NextPage(ctx context.Context, req source.PageRequest) (source.Page, error) {
	off := 0
	if req.Cursor != nil {
		var c struct{ Off int }
		if err := json.Unmarshal(req.Cursor, &c); err != nil {
			return source.Page{}, err
		}
		off = c.Off
	}
	var p source.Page
	for i := off; i < off+f.size && i < f.n; i++ {
		if f.failAt > 0 && i == f.failAt {
			p.Records = append(p.Records, json.RawMessage(`{"id":"bad","properties":{"score":"not-a-number"}}`))
			continue
		}
		p.Records = append(p.Records, fakeRecord(i))
	}
	next := off + len(p.Records)
	p.Next = json.RawMessage(`{"v":1,"off":` + strconv.Itoa(next) + `}`)
	p.Done = next >= f.n
	return p, nil
}
