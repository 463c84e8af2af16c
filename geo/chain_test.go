package geo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/geo"
)

var (
	fixWiFi = geo.Fix{Lat: homeLat, Lon: homeLon, Accuracy: 30, Source: kinwatch.SourceWiFi}
	fixCell = geo.Fix{Lat: homeLat, Lon: homeLon, Accuracy: 1500, Source: kinwatch.SourceCell}
)

// query returns a distinct query per n: two access points and a cell.
func query(n int, signal int) geo.Query {
	return geo.Query{
		Cells: []kinwatch.Cell{{MCC: 262, MNC: 1, LAC: 21041, CID: int64(1000 + n), RSSI: 100 + signal}},
		WiFi: []kinwatch.WiFi{
			{MAC: fmt.Sprintf("34:60:f9:00:%02x:%02x", n>>8&0xff, n&0xff), RSSI: -60 + signal},
			{MAC: fmt.Sprintf("98:48:27:00:%02x:%02x", n>>8&0xff, n&0xff), RSSI: -70 + signal},
		},
	}
}

func TestChainOrder(t *testing.T) {
	errDown := errors.New("service down")
	tests := []struct {
		name      string
		providers []*fakeProvider
		wantErr   error // nil: a fix from wantFrom
		wantFrom  string
		wantCalls []int64
	}{
		{name: "the first fix wins",
			providers: []*fakeProvider{{name: "a", fix: fixWiFi}, {name: "b", fix: fixCell}},
			wantFrom:  "a", wantCalls: []int64{1, 0}},
		{name: "not found falls through",
			providers: []*fakeProvider{{name: "a", err: geo.ErrNotFound}, {name: "b", fix: fixCell}, {name: "c", fix: fixWiFi}},
			wantFrom:  "b", wantCalls: []int64{1, 1, 0}},
		{name: "a failure falls through",
			providers: []*fakeProvider{{name: "a", err: errDown}, {name: "b", fix: fixCell}},
			wantFrom:  "b", wantCalls: []int64{1, 1}},
		{name: "an impossible fix falls through",
			providers: []*fakeProvider{{name: "a", fix: geo.Fix{Accuracy: 20, Source: kinwatch.SourceWiFi}}, {name: "b", fix: fixCell}},
			wantFrom:  "b", wantCalls: []int64{1, 1}},
		{name: "nobody knows",
			providers: []*fakeProvider{{name: "a", err: geo.ErrNotFound}, {name: "b", err: geo.ErrNotFound}},
			wantErr:   geo.ErrNotFound, wantCalls: []int64{1, 1}},
		{name: "a failure is not a not-found",
			providers: []*fakeProvider{{name: "a", err: geo.ErrNotFound}, {name: "b", err: errDown}},
			wantErr:   errDown, wantCalls: []int64{1, 1}},
		{name: "no providers", wantErr: geo.ErrNotFound, wantCalls: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &geo.Chain{}
			for _, p := range tt.providers {
				c.Providers = append(c.Providers, p)
			}
			fix, err := c.Locate(context.Background(), query(1, 0))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != geo.ErrNotFound && errors.Is(err, geo.ErrNotFound) {
					t.Fatalf("a failure reads as not found: %v", err)
				}
			} else if err != nil || fix.Provider != tt.wantFrom {
				t.Fatalf("fix %+v, err %v; want a fix from %s", fix, err, tt.wantFrom)
			}
			for i, p := range tt.providers {
				if got := p.calls.Load(); got != tt.wantCalls[i] {
					t.Errorf("provider %s called %d times, want %d", p.name, got, tt.wantCalls[i])
				}
			}
		})
	}
}

func TestChainCache(t *testing.T) {
	reordered := query(1, 0)
	reordered.WiFi[0], reordered.WiFi[1] = reordered.WiFi[1], reordered.WiFi[0]
	respelled := query(1, 0)
	respelled.WiFi[0].MAC = "34-60-F9-00-00-01"
	withHotspot := query(1, 0)
	withHotspot.WiFi = append(withHotspot.WiFi, kinwatch.WiFi{MAC: "02:00:00:00:00:09", RSSI: -30})
	tests := []struct {
		name      string
		second    geo.Query
		wantCalls int64
	}{
		{"the same query", query(1, 0), 1},
		{"other signals", query(1, 7), 1},
		{"other order", reordered, 1},
		{"other spelling", respelled, 1},
		{"an unusable access point more", withHotspot, 1},
		{"another place", query(2, 0), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{name: "p", fix: fixWiFi}
			c := &geo.Chain{Providers: []geo.Provider{p}}
			first, err := c.Locate(context.Background(), query(1, 0))
			if err != nil {
				t.Fatal(err)
			}
			second, err := c.Locate(context.Background(), tt.second)
			if err != nil || second != first {
				t.Fatalf("second answer %+v, %v; want %+v", second, err, first)
			}
			if got := p.calls.Load(); got != tt.wantCalls {
				t.Errorf("provider called %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestChainExpiry(t *testing.T) {
	tests := []struct {
		name       string
		fix        geo.Fix
		err        error
		ttl, nfTTL time.Duration
		after      time.Duration
		wantCalls  int64
	}{
		{name: "a fix within TTL", fix: fixWiFi, after: 23 * time.Hour, wantCalls: 1},
		{name: "a fix after TTL", fix: fixWiFi, after: 25 * time.Hour, wantCalls: 2},
		{name: "a fix within a short TTL", fix: fixWiFi, ttl: time.Hour, after: 59 * time.Minute, wantCalls: 1},
		{name: "a fix after a short TTL", fix: fixWiFi, ttl: time.Hour, after: time.Hour, wantCalls: 2},
		{name: "not found within its TTL", err: geo.ErrNotFound, after: 9 * time.Minute, wantCalls: 1},
		{name: "not found after its TTL", err: geo.ErrNotFound, after: 11 * time.Minute, wantCalls: 2},
		{name: "not found uncached", err: geo.ErrNotFound, nfTTL: -1, wantCalls: 2},
		{name: "cache off", fix: fixWiFi, ttl: -1, wantCalls: 2},
		{name: "a failure is never cached", err: errors.New("down"), wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			p := &fakeProvider{name: "p", fix: tt.fix, err: tt.err}
			c := &geo.Chain{Providers: []geo.Provider{p}, TTL: tt.ttl, NotFoundTTL: tt.nfTTL, Now: clk.Now}
			_, err1 := c.Locate(context.Background(), query(1, 0))
			clk.Advance(tt.after)
			_, err2 := c.Locate(context.Background(), query(1, 0))
			if !errors.Is(err1, tt.err) || !errors.Is(err2, tt.err) {
				t.Errorf("errors %v, %v; want %v", err1, err2, tt.err)
			}
			if got := p.calls.Load(); got != tt.wantCalls {
				t.Errorf("provider called %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestChainMaxEntries(t *testing.T) {
	p := &fakeProvider{name: "p", fix: fixWiFi}
	c := &geo.Chain{Providers: []geo.Provider{p}, MaxEntries: 3}
	ctx := context.Background()
	for i := range 10 {
		c.Locate(ctx, query(i, 0))
		c.Locate(ctx, query(0, 0)) // kept in use: the least recently used go first
		if n := c.CacheLen(); n > 3 {
			t.Fatalf("%d entries, the bound is 3", n)
		}
	}
	calls := p.calls.Load()
	c.Locate(ctx, query(0, 0))
	c.Locate(ctx, query(9, 0))
	if p.calls.Load() != calls {
		t.Errorf("a recently used answer was evicted")
	}
	c.Locate(ctx, query(1, 0))
	if p.calls.Load() != calls+1 {
		t.Errorf("an old answer was not evicted")
	}
}

func TestChainNothingUsable(t *testing.T) {
	p := &fakeProvider{name: "p", fix: fixWiFi}
	c := &geo.Chain{Providers: []geo.Provider{p}}
	q := geo.Query{Cells: []kinwatch.Cell{{MCC: 0, LAC: 0, CID: 0}}, WiFi: []kinwatch.WiFi{{MAC: "0"}, {MAC: "ff:ff:ff:ff:ff:ff"}}}
	if _, err := c.Locate(context.Background(), q); !errors.Is(err, geo.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if p.calls.Load() != 0 {
		t.Errorf("a provider was asked about nothing")
	}
}

func TestChainCanceled(t *testing.T) {
	p := &fakeProvider{name: "p", fix: fixWiFi, block: make(chan struct{})}
	c := &geo.Chain{Providers: []geo.Provider{p}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Locate(ctx, query(1, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	close(p.block)
	if fix, err := c.Locate(context.Background(), query(1, 0)); err != nil || fix.Provider != "p" {
		t.Fatalf("after a cancelled call: %+v, %v", fix, err)
	}
}

// TestChainConcurrent runs many watches' lookups at once (under -race): each distinct query reaches
// the provider exactly once, however many ask for it together.
func TestChainConcurrent(t *testing.T) {
	const places, workers, rounds = 10, 16, 200
	release := make(chan struct{})
	p := &fakeProvider{name: "p", fix: fixWiFi, block: release}
	c := &geo.Chain{Providers: []geo.Provider{p}, MaxEntries: 100}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				fix, err := c.Locate(context.Background(), query((w+i)%places, i%5))
				if err != nil || fix.Provider != "p" {
					errs <- fmt.Errorf("Locate = %+v, %v", fix, err)
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond) // let lookups pile up on the blocked provider
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := p.calls.Load(); got != places {
		t.Errorf("provider called %d times for %d places", got, places)
	}
	if n := c.CacheLen(); n != places {
		t.Errorf("%d cache entries, want %d", n, places)
	}
}
