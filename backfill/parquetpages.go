package backfill

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	sqlfiles "github.com/pulse-analytics/pulse/sql"
)

// DuckDB decodes a Parquet page whole, and a page can be as big as its
// column chunk (DuckDB itself writes one page per chunk): a 1M-row group of
// 100-byte properties makes a 100 MB page, which needs three to four times
// that, beyond the limits pulse gives its DuckDBs. A file's largest page
// therefore raises them, for that file.

// bigChunkBytes is the column chunk size above which backfill looks at
// the chunk's pages: smaller ones fit any limit it sets.
const bigChunkBytes = 16 << 20

// largestParquetPage returns the uncompressed size of the largest first
// page (dictionary or data) of path's big column chunks, 0 when none is
// big; a header it cannot read counts as its chunk's size. Writers cut a
// chunk's pages alike, so its first data page stands for the others.
func largestParquetPage(ctx context.Context, db *dbsql.DB, path string) (int64, error) {
	rows, err := db.QueryContext(ctx, stmt("backfill/parquet_big_pages"), path, bigChunkBytes)
	if err != nil {
		return 0, fmt.Errorf("read the column chunks of %s: %w", path, err)
	}
	type page struct{ offset, chunk int64 }
	var pages []page
	for rows.Next() {
		var p page
		if err := rows.Scan(&p.offset, &p.chunk); err != nil {
			rows.Close()
			return 0, err
		}
		pages = append(pages, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, err
	}
	if len(pages) == 0 {
		return 0, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var largest int64
	header := make([]byte, 64)
	for _, p := range pages {
		n, err := f.ReadAt(header, p.offset)
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("read a page header of %s: %w", path, err)
		}
		size, ok := pageSize(header[:n])
		if !ok {
			size = p.chunk // unknown: as big as it may be
		}
		largest = max(largest, size)
	}
	return largest, nil
}

// pageSize reads uncompressed_page_size from a Parquet PageHeader, which is
// Thrift's compact protocol: field 1 (type) and field 2 (the size) are
// 32-bit integers, each a field header byte (the id's delta from the
// previous field, 1, in its high nibble; type 5, i32, in its low one)
// followed by a zigzag varint.
func pageSize(b []byte) (int64, bool) {
	r := bytes.NewReader(b)
	for field := 1; field <= 2; field++ {
		h, err := r.ReadByte()
		if err != nil || h != 0x15 {
			return 0, false
		}
		v, err := binary.ReadVarint(r) // zigzag, as Thrift's compact i32
		if err != nil {
			return 0, false
		}
		if field == 2 {
			return v, v >= 0
		}
	}
	return 0, false
}

// raiseForPages raises the memory limit of a DuckDB capped at baseMB by
// what decoding pages of up to page bytes needs beside its other work, and
// returns the limit it set; "" when the pages fit in an eighth of baseMB.
func raiseForPages(ctx context.Context, db *dbsql.DB, baseMB, page int64) (string, error) {
	if page <= baseMB<<20/8 {
		return "", nil
	}
	limit := fmt.Sprintf("%dMB", baseMB+4*page>>20)
	return limit, setMemoryLimit(ctx, db, limit)
}

// setMemoryLimit sets a DuckDB's memory limit, as DuckDB reads it ("384MB").
func setMemoryLimit(ctx context.Context, db *dbsql.DB, limit string) error {
	var b strings.Builder
	if err := memoryLimitTemplate.Execute(&b, limit); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, b.String())
	return err
}

var memoryLimitTemplate = sqlfiles.Template(sqlfiles.DuckDB, "memory_limit")

// megabytes reads a memory limit as DuckDB takes it ("256MB", "1GB",
// "512MiB") in megabytes; ok is false for other forms.
func megabytes(limit string) (int64, bool) {
	s := strings.TrimSpace(strings.ToUpper(limit))
	units := []struct {
		suffix string
		bytes  float64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || v < 0 {
				return 0, false
			}
			return int64(v * u.bytes / (1 << 20)), true
		}
	}
	return 0, false
}
