package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestWindow(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	l := ratelimit.New(c.now)
	for i := 0; i < 3; i++ {
		if err := l.Allow("k", 3, time.Minute); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if err := l.Allow("k", 3, time.Minute); kinwatch.ErrorCode(err) != kinwatch.ETOOMANY {
		t.Fatalf("fourth attempt: %v", err)
	}
	if err := l.Allow("other", 3, time.Minute); err != nil {
		t.Fatalf("another key: %v", err)
	}
	c.t = c.t.Add(time.Minute)
	if err := l.Allow("k", 3, time.Minute); err != nil {
		t.Fatalf("next window: %v", err)
	}
}

// TestSprayingKeysKeepsTheCountUnderAttack: filling the table with fresh keys does not reset the
// count of a key that is being attacked, and memory stays bounded.
func TestSprayingKeysKeepsTheCountUnderAttack(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	l := ratelimit.NewSize(c.now, 1000)
	for i := 0; i < 10; i++ {
		l.Allow("login:victim@example.org", 10, time.Hour)
	}
	for i := 0; i < 50_000; i++ {
		l.Allow(fmt.Sprintf("login:spray%d@example.org", i), 10, 15*time.Minute)
		if l.Len() > 1000 {
			t.Fatalf("%d keys held, bound is 1000", l.Len())
		}
	}
	if err := l.Allow("login:victim@example.org", 10, time.Hour); kinwatch.ErrorCode(err) != kinwatch.ETOOMANY {
		t.Fatalf("the attacked key's count was forgotten: %v", err)
	}
}

// TestExpiryUsesEachKeysPeriod: a short-period caller sweeping the table does not end another
// key's longer window early.
func TestExpiryUsesEachKeysPeriod(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	l := ratelimit.NewSize(c.now, 10)
	for i := 0; i < 3; i++ {
		l.Allow("reset:anna", 3, time.Hour)
	}
	c.t = c.t.Add(10 * time.Minute)
	for i := 0; i < 30; i++ {
		l.Allow(fmt.Sprintf("short%d", i), 5, time.Minute)
	}
	if err := l.Allow("reset:anna", 3, time.Hour); kinwatch.ErrorCode(err) != kinwatch.ETOOMANY {
		t.Fatalf("the hour-long window ended early: %v", err)
	}
}
