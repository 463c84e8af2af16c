// Package storetest is the conformance suite for kinwatch.Store: the same scenarios run against
// every adapter (sqlite, postgres), so they behave alike and callers can switch between them.
//
// It owns the behaviour the domain leaves implicit (how updates fold, what "not found" looks like,
// which times survive a round trip). It imports testing and must be imported only from tests and
// benchmarks; it never reaches into an adapter beyond the kinwatch.Store interface.
package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"kinwatch"
)

// Run runs the suite. open must return a fresh, empty, migrated store for each call and arrange
// for it to be closed when t ends; each subtest opens its own.
func Run(t *testing.T, open func(t *testing.T) kinwatch.Store) {
	tests := []storeTest{
		{"PingAndEmptyBatch", testPingAndEmptyBatch},
		{"DeviceRegistration", testDeviceRegistration},
		{"DeviceFoldingWithinBatch", testDeviceFoldingWithinBatch},
		{"DeviceFoldingAcrossBatches", testDeviceFoldingAcrossBatches},
		{"DataRegistersDevice", testDataRegistersDevice},
		{"DevicesFilter", testDevicesFilter},
		{"SetDeviceState", testSetDeviceState},
		{"MarkAllOffline", testMarkAllOffline},
		{"PositionRoundTrip", testPositionRoundTrip},
		{"PositionQueries", testPositionQueries},
		{"HistoryPagingTies", testHistoryPagingTies},
		{"Track", testTrack},
		{"TrackLongWindow", testTrackLongWindow},
		{"Events", testEvents},
		{"AlarmsStoredOnce", testAlarmsStoredOnce},
		{"HealthReadings", testHealthReadings},
		{"Media", testMedia},
		{"CommandLifecycle", testCommandLifecycle},
		{"CommandFinishStates", testCommandFinishStates},
		{"CommandOrdering", testCommandOrdering},
		{"CommandPaging", testCommandPaging},
		{"ExpireCommands", testExpireCommands},
		{"BatchAtomicity", testBatchAtomicity},
		{"BatchValidation", testBatchValidation},
		{"ReadsDuringBigBatch", testReadsDuringBigBatch},
		{"ConcurrentBatches", testConcurrentBatches},
		{"UnboundWatchData", testUnboundWatchData},
		{"UnbindDuringBatches", testUnbindDuringBatches},
	}
	tests = append(tests, accountTests...)
	tests = append(tests, familyTests...)
	tests = append(tests, consentTests...)
	tests = append(tests, keyTests...)
	tests = append(tests, retentionTests...)
	tests = append(tests, accessTests...)
	tests = append(tests, deletionTests...)
	tests = append(tests, geoTests...)
	tests = append(tests, fenceTests...)
	tests = append(tests, noticeTests...)
	tests = append(tests, notificationTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

type storeTest struct {
	name string
	fn   func(*testing.T, kinwatch.Store)
}

// t0 has microseconds but no nanoseconds: PostgreSQL keeps microseconds, so round trips of
// times built on it compare exactly on every adapter.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

func ptr[T any](v T) *T { return &v }

func write(t *testing.T, s kinwatch.Store, recs ...kinwatch.Record) {
	t.Helper()
	if err := s.WriteBatch(t.Context(), recs); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
}

func update(u kinwatch.DeviceUpdate) kinwatch.Record { return kinwatch.Record{Device: &u} }

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := kinwatch.ErrorCode(err); got != code {
		t.Errorf("%s: error code %q (%v), want %q", what, got, err, code)
	}
	var e *kinwatch.Error
	if code != "" && !errors.As(err, &e) {
		t.Errorf("%s: %v is not a *kinwatch.Error", what, err)
	}
}

// same fails the test when got and want differ, showing both as JSON (which prints floats with
// every significant digit and pointers as the values they point to).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	t.Errorf("%s:\n got %s\nwant %s", what, g, w)
}

func mustDevice(t *testing.T, s kinwatch.Store, id string) *kinwatch.Device {
	t.Helper()
	d, err := s.Device(t.Context(), id)
	if err != nil {
		t.Fatalf("Device(%q): %v", id, err)
	}
	return d
}

func testPingAndEmptyBatch(t *testing.T, s kinwatch.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.WriteBatch(t.Context(), nil); err != nil {
		t.Fatalf("WriteBatch(nil): %v", err)
	}
	devices, err := s.Devices(t.Context(), kinwatch.DeviceFilter{})
	if err != nil || len(devices) != 0 {
		t.Fatalf("Devices on an empty store = %v, %v; want none", devices, err)
	}
}
