package query

import (
	"context"
	"errors"
	"strings"

	"github.com/pulse-analytics/pulse/output"
)

// SQL is a user's own read-only statement, run as is against the store.
type SQL struct {
	Text string
}

// Validate checks that there is a statement; whether it is a single
// read-only one only the backend's parser can tell (see Backend.QueryText).
func (q SQL) Validate() error {
	if strings.TrimSpace(q.Text) == "" {
		return errors.New("no SQL statement given: pass one, e.g. pulse query sql 'SELECT count(*) FROM events'")
	}
	return nil
}

// Run executes the statement. A statement that is refused comes back as a
// *RefusedError.
func (q SQL) Run(ctx context.Context, b Backend) (*output.Table, error) {
	return b.QueryText(ctx, q.Text)
}
