package backfill

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
)

func TestPageSizeReadsTheThriftHeader(t *testing.T) {
	header := func(typ, size int64) []byte {
		b := []byte{0x15}
		b = binary.AppendVarint(b, typ)
		b = append(b, 0x15)
		b = binary.AppendVarint(b, size)
		return append(b, 0x15, 0x02) // compressed_page_size, not read
	}
	for _, size := range []int64{0, 1, 63, 64, 1 << 20, 96906723, 1<<31 - 1} {
		if got, ok := pageSize(header(0, size)); !ok || got != size {
			t.Errorf("pageSize of a header with %d = %d, %v", size, got, ok)
		}
	}
	for _, b := range [][]byte{nil, {0x15}, {0x16, 0x00, 0x15, 0x02}, {0x15, 0x00, 0x25, 0x02}, {0x15, 0x00, 0x15, 0x80}} {
		if got, ok := pageSize(b); ok {
			t.Errorf("pageSize(%x) = %d, want not read", b, got)
		}
	}
}

// A Parquet file whose pages are big (DuckDB writes a column chunk as one
// page: here an 80 MB one, which DuckDB decodes into a 128 MiB buffer)
// loads in both lanes and checks in a dry run; the DuckDBs that read it,
// capped for ordinary files, refused it.
func TestParquetWithBigPagesLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big-pages.parquet")
	const rows = 350_000
	duckdbExec(t, `COPY (SELECT uuid() AS event_id, 'page_viewed' AS event, 'u' || (i % 5000) AS user_id, 'acme' AS tenant_id,
		    's' || (i % 9000) AS session_id, TIMESTAMP '2026-09-01' + INTERVAL (i) SECOND AS ts,
		    '{"path":"/docs/' || i || '","ref":"' || repeat(md5(CAST(i AS VARCHAR)), 6) || '","n":' || i || '}' AS properties
		FROM range(350000) r(i)) TO '`+path+`' (FORMAT parquet, ROW_GROUP_SIZE 1000000)`)
	db, err := openPrivateDuckDB(parquetReaderMB, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, err := largestParquetPage(context.Background(), db, path)
	if err != nil || page < 70<<20 {
		t.Fatalf("largest page %d, %v; want the properties chunk's, over 70 MB", page, err)
	}
	bulk, _ := bothLanes(t, path, Config{})
	if bulk.Loaded != rows || bulk.Bulk != rows {
		t.Errorf("loaded %d, %d in bulk; want all %d in bulk", bulk.Loaded, bulk.Bulk, rows)
	}
	dry, err := load(t, "", "", Config{}, path)
	if err != nil || dry.Loaded != rows {
		t.Errorf("dry run: %+v, %v", dry, err)
	}
}
