package geo_test

import (
	"context"
	"errors"
	"testing"

	"kinwatch"
	"kinwatch/geo"
)

// The landmarks around the home point: three access points of the school and two of its cells.
var (
	apNear  = "34:60:f9:ec:19:f8"
	apHall  = "98:48:27:55:18:20"
	apGym   = "a8:3f:a1:e0:66:ba"
	apOther = "00:0c:42:51:cf:cd" // known, but far away: the family moved and took it along

	cellServing  = geo.CellKey{MCC: 262, MNC: 1, LAC: 21041, CID: 9067}
	cellNeighbor = geo.CellKey{MCC: 262, MNC: 1, LAC: 21041, CID: 5981}
	cellUnknown  = geo.CellKey{MCC: 262, MNC: 1, LAC: 21041, CID: 7777}
)

func testStores() (towerMap, apMap) {
	at := func(east, north, r float64) geo.AccessPoint {
		lat, lon := offset(homeLat, homeLon, east, north)
		return geo.AccessPoint{Lat: lat, Lon: lon, Accuracy: r, Samples: 12}
	}
	tower := func(east, north, r float64) geo.Tower {
		lat, lon := offset(homeLat, homeLon, east, north)
		return geo.Tower{Lat: lat, Lon: lon, Range: r, Samples: 300}
	}
	farLat, farLon := offset(homeLat, homeLon, 40_000, 0)
	return towerMap{
			cellServing:  tower(400, 300, 1200),
			cellNeighbor: tower(-900, 600, 1500),
		}, apMap{
			apNear:              at(10, 5, 30),
			apHall:              at(-30, 20, 30),
			apGym:               at(25, -40, 40),
			apOther:             geo.AccessPoint{Lat: farLat, Lon: farLon, Accuracy: 30, Samples: 40},
			"02:11:22:33:44:55": at(0, 0, 10),  // a hotspot a bad store learned: must never be asked for
			"4c:5e:0c:11:22:33": at(-5, 5, 20), // opted out by its SSID
			"60:45:cb:cb:34:68": at(5000, 0, 30),
			"04:f0:21:46:1f:57": at(30, 0, 0), // accuracy unknown
			"04:f0:21:4c:c8:3e": at(-30, 0, 0),
			"14:ae:db:cb:99:25": {Lat: 0, Lon: 0, Accuracy: 10}, // broken data: 0,0
			"58:d5:6e:9d:1b:af": at(0, 30, 25),
			"00:1e:42:25:2f:3e": at(0, -30, 25),
			"b0:be:76:0a:05:9a": at(15, 15, 20),
			"f4:db:e6:d2:a8:00": at(-15, -15, 20),
			"78:0c:f0:24:f9:80": at(20, -10, 20),
			"f4:db:e6:da:d0:80": at(-10, 20, 20),
			"e0:28:6d:00:00:01": at(12, 12, 25),
			"3c:a6:2f:00:00:02": at(-12, 12, 25),
		}
}

func cell(k geo.CellKey, rssi int) kinwatch.Cell {
	return kinwatch.Cell{MCC: k.MCC, MNC: k.MNC, LAC: k.LAC, CID: k.CID, RSSI: rssi}
}

func TestLocal(t *testing.T) {
	towers, aps := testStores()
	cells := []kinwatch.Cell{cell(cellServing, 121), cell(cellNeighbor, 116)}
	tests := []struct {
		name       string
		towers     geo.Towers
		aps        geo.AccessPoints
		q          geo.Query
		wantErr    error // nil: a fix
		wantSource string
		accAtLeast float64
		within     float64 // metres from home; 0: the fix's accuracy
	}{
		{name: "known access points give wifi", towers: towers, aps: aps,
			q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{
				{SSID: "School-Guest", MAC: apNear, RSSI: -52}, {SSID: "eduroam", MAC: apHall, RSSI: -70}, {SSID: "Gym", MAC: apGym, RSSI: -75}}},
			wantSource: kinwatch.SourceWiFi, accAtLeast: geo.MinWiFiAccuracy},
		{name: "MACs as firmwares spell them", towers: towers, aps: aps,
			q:          geo.Query{WiFi: []kinwatch.WiFi{{MAC: "34-60-F9-EC-19-F8", RSSI: -52}, {MAC: "98:48:27:55:18:20", RSSI: -70}}},
			wantSource: kinwatch.SourceWiFi},
		{name: "positive Wi-Fi signals are a lost sign", towers: towers, aps: aps,
			q:          geo.Query{WiFi: []kinwatch.WiFi{{MAC: apNear, RSSI: 52}, {MAC: apHall, RSSI: 70}, {MAC: apGym, RSSI: 75}}},
			wantSource: kinwatch.SourceWiFi},
		{name: "unknown access point radius gets the default", aps: aps,
			q:          geo.Query{WiFi: []kinwatch.WiFi{{MAC: "04:f0:21:46:1f:57", RSSI: -60}, {MAC: "04:f0:21:4c:c8:3e", RSSI: -60}}},
			wantSource: kinwatch.SourceWiFi, accAtLeast: geo.DefaultAccessPointRadius},
		{name: "one known access point falls back to cells", towers: towers, aps: aps,
			q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{
				{MAC: apNear, RSSI: -52}, {MAC: "10:34:56:78:9a:bc", RSSI: -60}}},
			wantSource: kinwatch.SourceCell, accAtLeast: 1200},
		{name: "a hotspot and an opted-out access point do not count", towers: towers, aps: aps,
			q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{
				{MAC: apNear, RSSI: -52}, {MAC: "02:11:22:33:44:55", RSSI: -40}, {SSID: "Home_nomap", MAC: "4c:5e:0c:11:22:33", RSSI: -45}}},
			wantSource: kinwatch.SourceCell, accAtLeast: 1200},
		{name: "a known access point at 0,0 does not count", towers: towers, aps: aps,
			q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{
				{MAC: apNear, RSSI: -52}, {MAC: "14:ae:db:cb:99:25", RSSI: -40}}},
			wantSource: kinwatch.SourceCell},
		{name: "cells only", towers: towers, aps: aps, q: geo.Query{Cells: []kinwatch.Cell{cell(cellServing, 0)}},
			wantSource: kinwatch.SourceCell, accAtLeast: 1200},
		{name: "two cells", towers: towers, q: geo.Query{Cells: cells},
			wantSource: kinwatch.SourceCell, accAtLeast: geo.MinCellAccuracy},
		{name: "access points contradicting the cells lose", towers: towers, aps: aps,
			q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{
				{MAC: apOther, RSSI: -50}, {MAC: "60:45:cb:cb:34:68", RSSI: -60}}},
			wantSource: kinwatch.SourceCell},
		{name: "Wi-Fi stands when the tower store fails", towers: brokenStore{}, aps: aps,
			q:          geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{{MAC: apNear, RSSI: -52}, {MAC: apHall, RSSI: -70}}},
			wantSource: kinwatch.SourceWiFi},
		{name: "nothing known", towers: towers, aps: aps,
			q:       geo.Query{Cells: []kinwatch.Cell{cell(cellUnknown, 80)}, WiFi: []kinwatch.WiFi{{MAC: "10:34:56:78:9a:bc"}, {MAC: "10:34:56:78:9a:bd"}}},
			wantErr: geo.ErrNotFound},
		{name: "nothing usable heard", towers: towers, aps: aps,
			q:       geo.Query{Cells: []kinwatch.Cell{{MCC: 65535, MNC: 65535, LAC: 0xFFFE, CID: 0x3B882A2}}, WiFi: []kinwatch.WiFi{{MAC: "0"}, {MAC: ""}}},
			wantErr: geo.ErrNotFound},
		{name: "no data at all", q: geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{{MAC: apNear}, {MAC: apHall}}},
			wantErr: geo.ErrNotFound},
		{name: "a failing access point store is an error", towers: towers, aps: brokenStore{},
			q:       geo.Query{Cells: cells, WiFi: []kinwatch.WiFi{{MAC: apNear}, {MAC: apHall}}},
			wantErr: errStore},
		{name: "a failing tower store is an error", towers: brokenStore{}, aps: aps,
			q:       geo.Query{Cells: cells},
			wantErr: errStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := geo.NewLocal(tt.towers, tt.aps)
			if p.Name() != "local" {
				t.Fatalf("Name = %q", p.Name())
			}
			fix, err := p.Locate(context.Background(), tt.q)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != geo.ErrNotFound && errors.Is(err, geo.ErrNotFound) {
					t.Fatalf("a failure reads as not found: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fix.Source != tt.wantSource || fix.Provider != "local" {
				t.Errorf("source %q provider %q, want %q local", fix.Source, fix.Provider, tt.wantSource)
			}
			floor := geo.MinWiFiAccuracy
			if fix.Source == kinwatch.SourceCell {
				floor = geo.MinCellAccuracy
			}
			if fix.Accuracy < max(floor, tt.accAtLeast) {
				t.Errorf("accuracy %.1f m, want at least %.1f", fix.Accuracy, max(floor, tt.accAtLeast))
			}
			within := tt.within
			if within == 0 {
				within = fix.Accuracy
			}
			if d := geo.Distance(fix.Lat, fix.Lon, homeLat, homeLon); d > within {
				t.Errorf("fix is %.1f m from the child, accuracy %.1f m", d, fix.Accuracy)
			}
		})
	}
}

// TestLocalAsksOnlyForUsableMACs checks what reaches the store: normalised, deduplicated, no
// hotspots, no opted-out networks.
func TestLocalAsksOnlyForUsableMACs(t *testing.T) {
	var asked []string
	rec := recordingAPs(func(macs []string) { asked = append(asked, macs...) })
	q := geo.Query{WiFi: []kinwatch.WiFi{
		{MAC: "34:60:F9:EC:19:F8", RSSI: -60}, {MAC: "34-60-f9-ec-19-f8", RSSI: -50}, // the same one twice
		{MAC: "02:00:00:00:00:01"}, {MAC: "ff:ff:ff:ff:ff:ff"}, {MAC: "00:00:00:00:00:00"},
		{SSID: "cafe_optout_x", MAC: "98:48:27:55:18:21"}, {MAC: "98:48:27:55:18:20"},
	}}
	geo.NewLocal(nil, rec).Locate(context.Background(), q)
	want := []string{"34:60:f9:ec:19:f8", "98:48:27:55:18:20"}
	if len(asked) != len(want) || asked[0] != want[0] || asked[1] != want[1] {
		t.Errorf("asked for %v, want %v", asked, want)
	}
}

type recordingAPs func([]string)

func (r recordingAPs) AccessPoints(_ context.Context, macs []string) (map[string]geo.AccessPoint, error) {
	r(macs)
	return nil, nil
}

func TestNormalizeMAC(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = invalid
	}{
		{"34:60:f9:ec:19:f8", "34:60:f9:ec:19:f8"},
		{"34:60:F9:EC:19:F8", "34:60:f9:ec:19:f8"},
		{"34-60-F9-EC-19-F8", "34:60:f9:ec:19:f8"},
		{"3460F9EC19F8", "34:60:f9:ec:19:f8"},
		{"3460.f9ec.19f8", "34:60:f9:ec:19:f8"},
		{" 0:1e:42:25:2f:3e ", "00:1e:42:25:2f:3e"}, // leading zeros dropped, spaces around
		{"00:8c:54:58:1d:64", "00:8c:54:58:1d:64"},
		{"02:11:22:33:44:55", ""}, // locally administered: a hotspot or a randomised address
		{"be:05:43:b7:19:15", ""}, // locally administered (0xbe has bit 1 set), from a captured frame
		{"36:a2:e1:ed:a1:de", ""}, // same
		{"ff:ff:ff:ff:ff:ff", ""}, // broadcast
		{"01:00:5e:00:00:fb", ""}, // multicast
		{"00:00:00:00:00:00", ""},
		{"0", ""},
		{"", ""},
		{"34:60:f9:ec:19", ""},
		{"34:60:f9:ec:19:f8:00", ""},
		{"34:60-f9:ec:19:f8", ""}, // mixed separators
		{"34:60:f9:ec:19:g8", ""},
		{"34:60:f9:ec:19:f80", ""},
		{"34::f9:ec:19:f8", ""},
		{"3460f9ec19f", ""},
		{"3460.f9ec.19fz", ""},
	}
	for _, tt := range tests {
		got, ok := geo.NormalizeMAC(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("NormalizeMAC(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzNormalizeMAC(f *testing.F) {
	for _, s := range []string{"34:60:f9:ec:19:f8", "34-60-F9-EC-19-F8", "3460f9ec19f8", "3460.f9ec.19f8", "0:1:2:3:4:5", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := geo.NormalizeMAC(s)
		if !ok {
			return
		}
		again, ok2 := geo.NormalizeMAC(got)
		if !ok2 || again != got || len(got) != 17 {
			t.Fatalf("NormalizeMAC(%q) = %q, which normalises to %q, %v", s, got, again, ok2)
		}
	})
}

func TestSignals(t *testing.T) {
	wifi := []struct {
		raw, want int
		ok        bool
	}{
		{-82, -82, true}, {-46, -46, true}, {-104, -104, true},
		{82, -82, true},  // a lost sign
		{190, -66, true}, // a signed byte read unsigned
		{0, 0, false}, {-500, 0, false}, {300, 0, false},
	}
	for _, tt := range wifi {
		if got, ok := geo.WiFiSignal(tt.raw); got != tt.want || ok != tt.ok {
			t.Errorf("WiFiSignal(%d) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
	cells := []struct {
		raw, want int
		dBm, ok   bool
	}{
		{-85, -85, true, true},
		{255, -51, false, true}, {1, -113, false, true},
		{0, 0, false, false}, {256, 0, false, false},
	}
	for _, tt := range cells {
		got, dBm, ok := geo.CellSignal(tt.raw)
		if got != tt.want || dBm != tt.dBm || ok != tt.ok {
			t.Errorf("CellSignal(%d) = %d, %v, %v; want %d, %v, %v", tt.raw, got, dBm, ok, tt.want, tt.dBm, tt.ok)
		}
	}
	// The order of the captured reports' cells (strongest first) survives the mapping.
	prev := 0
	for i, raw := range []int{167, 162, 145, 141, 139, 121, 100, 75, 42, 14, 4} {
		s, _, _ := geo.CellSignal(raw)
		if i > 0 && s > prev {
			t.Errorf("CellSignal(%d) = %d, stronger than the larger value before it (%d)", raw, s, prev)
		}
		prev = s
	}
}
