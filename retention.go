package kinwatch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RetentionClass names data kept for a limited time: each is deleted by the retention job once
// older than the operator's period for it, or the shorter one a family chose.
type RetentionClass string

const (
	RetainLocation     RetentionClass = "location_history" // positions
	RetainHealth       RetentionClass = "health"           // health readings
	RetainVoice        RetentionClass = "voice"            // voice messages (rows and content)
	RetainPhotos       RetentionClass = "photos"           // photos from the watch (rows and content)
	RetainEvents       RetentionClass = "events"           // alarms, connections, command events
	RetainCommands     RetentionClass = "commands"         // finished commands
	RetainLoginRecords RetentionClass = "login_records"    // sessions (device, IP) by last use, and expired ones
	RetainAccessLog    RetentionClass = "access_log"       // who read a child's sensitive data
)

// RetentionClasses lists the classes in a fixed order; FamilyRetentionClasses those a family may
// shorten (its children's data).
var (
	RetentionClasses       = []RetentionClass{RetainLocation, RetainHealth, RetainVoice, RetainPhotos, RetainEvents, RetainCommands, RetainLoginRecords, RetainAccessLog}
	FamilyRetentionClasses = []RetentionClass{RetainLocation, RetainHealth, RetainVoice, RetainPhotos, RetainEvents, RetainCommands}
)

// Retention is how long each class is kept.
type Retention map[RetentionClass]time.Duration

// DefaultRetention is what an operator gets without configuring any.
func DefaultRetention() Retention {
	day := 24 * time.Hour
	return Retention{
		RetainLocation:     90 * day,
		RetainHealth:       90 * day,
		RetainVoice:        30 * day,
		RetainPhotos:       90 * day,
		RetainEvents:       180 * day,
		RetainCommands:     90 * day,
		RetainLoginRecords: 180 * day,
		RetainAccessLog:    365 * day,
	}
}

// ParseRetention reads "class=90d,class=12h,…" over the defaults; a class not named keeps its
// default. Periods are whole days (d) or hours (h), at least one hour.
func ParseRetention(s string) (Retention, error) {
	r := DefaultRetention()
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		class := RetentionClass(strings.TrimSpace(name))
		if !ok || !slices.Contains(RetentionClasses, class) {
			return nil, fmt.Errorf("retention %q: want class=period with a class of %v", item, RetentionClasses)
		}
		d, err := parsePeriod(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("retention %q: %v", item, err)
		}
		r[class] = d
	}
	return r, nil
}

func parsePeriod(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("period %q: want a number of days (90d) or hours (12h)", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 1 || n > 36500 {
		return 0, fmt.Errorf("period %q: want a number of days (90d) or hours (12h), at least 1h", s)
	}
	switch s[len(s)-1] {
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'h':
		return time.Duration(n) * time.Hour, nil
	}
	return 0, fmt.Errorf("period %q: want a number of days (90d) or hours (12h)", s)
}

// RetentionStore deletes what outlived its retention, and keeps what families chose.
type RetentionStore interface {
	// Purge deletes at most limit records of class older than before (for one family's watches, or
	// every watch when familyID is ""), in one transaction, and returns how many it deleted and
	// the blob keys of deleted media, which the caller removes from the blob store.
	Purge(ctx context.Context, class RetentionClass, familyID string, before time.Time, limit int) (int, []string, error)
	// FamilyRetentions returns the retention every family chose that chose any, in days per class.
	FamilyRetentions(ctx context.Context) (map[string]map[RetentionClass]int, error)
	// FamilyRetention returns one family's choice (empty when it chose none); ENOTFOUND for no
	// such family.
	FamilyRetention(ctx context.Context, familyID string) (map[RetentionClass]int, error)
	// SetFamilyRetention replaces a family's choice (days per class; an empty map clears it).
	SetFamilyRetention(ctx context.Context, familyID string, days map[RetentionClass]int) error
}
