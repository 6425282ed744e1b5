package gen

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for Config; `pulse gen` uses the same values for its flags.
const (
	DefaultSeed    = 1
	DefaultTenants = 20
	DefaultUsers   = 10_000
	DefaultDays    = 60
)

// MaxUsers bounds Config.Users: per-user state (~400 bytes) is the only
// memory that grows with the data set, and ten million users take ~4 GB
// of heap.
const MaxUsers = 10_000_000

// Config says what to generate. Output depends only on Config: the same
// Config always yields the same events, in the same order, with the same
// event ids.
type Config struct {
	// Seed selects the data set; different seeds give unrelated data.
	Seed uint64
	// Tenants is the number of tenants (default 20). Their sizes are
	// Zipf-skewed: with 20 tenants the largest holds ~28% of the users.
	Tenants int
	// Users is the total number of users across tenants (default 10,000).
	Users int
	// Start and End bound event timestamps: Start <= ts < End. Users sign
	// up throughout the range; nothing is emitted at or after End.
	Start, End time.Time
	// MaxEvents stops generation after that many events; 0 means no cap.
	MaxEvents int64
}

// DefaultRange returns the default time range: DefaultDays days ending at
// the UTC midnight that starts now's day.
func DefaultRange(now time.Time) (start, end time.Time) {
	end = now.UTC().Truncate(24 * time.Hour)
	return end.AddDate(0, 0, -DefaultDays), end
}

// Validate reports the first field that makes cfg unusable.
func (c Config) Validate() error {
	switch {
	case c.Tenants < 1:
		return fmt.Errorf("tenants must be at least 1, got %d", c.Tenants)
	case c.Users < 1 || c.Users > MaxUsers:
		return fmt.Errorf("users must be between 1 and %d, got %d", MaxUsers, c.Users)
	case c.Tenants > c.Users:
		return fmt.Errorf("tenants (%d) must not exceed users (%d): every tenant needs a user", c.Tenants, c.Users)
	case c.Start.IsZero() || c.End.IsZero():
		return errors.New("start and end must be set")
	case !c.End.After(c.Start):
		return fmt.Errorf("end %s must be after start %s", c.End.UTC().Format(time.RFC3339), c.Start.UTC().Format(time.RFC3339))
	case c.Start.Year() < 1970 || c.End.Year() > 9999:
		return errors.New("start and end must lie between 1970 and 9999")
	case c.MaxEvents < 0:
		return fmt.Errorf("max events must not be negative, got %d", c.MaxEvents)
	}
	return nil
}
