package geo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/geo"
)

const testKey = "s3cr3t-key"

// geolocateWire is the request as a geolocate service reads it; decoding with unknown fields
// disallowed checks that nothing else (an SSID) is sent.
type geolocateWire struct {
	ConsiderIP *bool `json:"considerIp"`
	CellTowers []struct {
		RadioType string `json:"radioType"`
		MCC       *int   `json:"mobileCountryCode"`
		MNC       *int   `json:"mobileNetworkCode"`
		LAC       *int64 `json:"locationAreaCode"`
		CID       *int64 `json:"cellId"`
		Signal    *int   `json:"signalStrength"`
	} `json:"cellTowers"`
	WiFi []struct {
		MAC    string `json:"macAddress"`
		Signal *int   `json:"signalStrength"`
	} `json:"wifiAccessPoints"`
}

// fakeGeolocate is a geolocate service on loopback: it checks every request as the real ones do and
// answers what the scenario says.
type fakeGeolocate struct {
	t       *testing.T
	calls   atomic.Int64
	last    atomic.Pointer[geolocateWire]
	respond func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeGeolocate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/geolocate" {
		http.Error(w, "wrong method or path", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Query().Get("key") != testKey {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":400,"message":"API key not valid.","errors":[{"reason":"keyInvalid"}]}}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(r.Body)
	if bytes.Contains(bytes.ToLower(body), []byte("ssid")) || bytes.Contains(body, []byte("School-Guest")) {
		f.t.Errorf("the request carries an SSID: %s", body)
	}
	var req geolocateWire
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		f.t.Errorf("request %s: %v", body, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if req.ConsiderIP == nil || *req.ConsiderIP {
		f.t.Errorf("considerIp missing or true: %s", body)
	}
	for _, c := range req.CellTowers {
		if c.MCC == nil || c.MNC == nil || c.LAC == nil || c.CID == nil {
			f.t.Errorf("a cell lacks an id: %s", body)
		}
		if c.Signal != nil && *c.Signal >= 0 {
			f.t.Errorf("cell signal %d is not dBm", *c.Signal)
		}
	}
	for _, a := range req.WiFi {
		if _, ok := geo.NormalizeMAC(a.MAC); !ok || strings.ToLower(a.MAC) != a.MAC {
			f.t.Errorf("bad MAC %q", a.MAC)
		}
		if a.Signal != nil && *a.Signal >= 0 {
			f.t.Errorf("Wi-Fi signal %d is not dBm", *a.Signal)
		}
	}
	if len(req.WiFi) == 1 {
		f.t.Errorf("a single access point was sent")
	}
	f.last.Store(&req)
	f.respond(w, r)
}

func answer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var (
	wifiQuery = geo.Query{
		Cells: []kinwatch.Cell{cell(cellServing, 121)},
		WiFi: []kinwatch.WiFi{
			{SSID: "School-Guest", MAC: "34:60:F9:EC:19:F8", RSSI: -52},
			{SSID: "eduroam", MAC: apHall, RSSI: 70},
			{SSID: "phone", MAC: "02:11:22:33:44:55", RSSI: -40}, // a hotspot: not sent
		},
	}
	cellQuery    = geo.Query{Cells: []kinwatch.Cell{cell(cellServing, 121), cell(cellNeighbor, -95)}}
	oneAPQuery   = geo.Query{WiFi: []kinwatch.WiFi{{SSID: "School-Guest", MAC: apNear, RSSI: -52}}}
	onlyAPsQuery = geo.Query{WiFi: wifiQuery.WiFi}
)

func TestRemote(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		q          geo.Query
		respond    func(http.ResponseWriter, *http.Request)
		wantErr    error  // ErrNotFound, or nil
		wantErrMsg string // a failure whose message contains this
		wantSource string
		wantAcc    float64
		wantCalls  int64
		check      func(t *testing.T, req *geolocateWire)
	}{
		{name: "Wi-Fi and cells", key: testKey, q: wifiQuery,
			respond:    answer(200, `{"location":{"lat":52.520008,"lng":13.404954},"accuracy":24.5}`),
			wantSource: kinwatch.SourceWiFi, wantAcc: 24.5, wantCalls: 1,
			check: func(t *testing.T, req *geolocateWire) {
				if len(req.WiFi) != 2 || len(req.CellTowers) != 1 {
					t.Fatalf("sent %d access points and %d cells, want 2 and 1", len(req.WiFi), len(req.CellTowers))
				}
				if req.WiFi[0].MAC != apNear || *req.WiFi[0].Signal != -52 || *req.WiFi[1].Signal != -70 {
					t.Errorf("access points sent as %+v", req.WiFi)
				}
				c := req.CellTowers[0]
				if *c.MCC != 262 || *c.MNC != 1 || *c.LAC != 21041 || *c.CID != 9067 || c.Signal != nil || c.RadioType != "" {
					t.Errorf("cell sent as %+v", c)
				}
			}},
		{name: "access points only", key: testKey, q: onlyAPsQuery,
			respond:    answer(200, `{"location":{"lat":52.52,"lng":13.4},"accuracy":5}`),
			wantSource: kinwatch.SourceWiFi, wantAcc: geo.MinWiFiAccuracy, wantCalls: 1},
		{name: "a cell answer to a Wi-Fi query is a cell fix", key: testKey, q: wifiQuery,
			respond:    answer(200, `{"location":{"lat":52.52,"lng":13.4},"accuracy":2100}`),
			wantSource: kinwatch.SourceCell, wantAcc: 2100, wantCalls: 1},
		{name: "cells", key: testKey, q: cellQuery,
			respond:    answer(200, `{"location":{"lat":52.52,"lng":13.4},"accuracy":50}`),
			wantSource: kinwatch.SourceCell, wantAcc: geo.MinCellAccuracy, wantCalls: 1,
			check: func(t *testing.T, req *geolocateWire) {
				if len(req.WiFi) != 0 || len(req.CellTowers) != 2 {
					t.Fatalf("sent %d access points and %d cells", len(req.WiFi), len(req.CellTowers))
				}
				for _, c := range req.CellTowers {
					if dBm := *c.CID == cellNeighbor.CID; dBm != (c.Signal != nil) || dBm && *c.Signal != -95 {
						t.Errorf("cell %d sent with signal %v: only the one reported in dBm has one", *c.CID, c.Signal)
					}
				}
			}},
		{name: "a single access point is only a cell query", key: testKey,
			q:          geo.Query{Cells: cellQuery.Cells, WiFi: oneAPQuery.WiFi},
			respond:    answer(200, `{"location":{"lat":52.52,"lng":13.4},"accuracy":800}`),
			wantSource: kinwatch.SourceCell, wantAcc: 800, wantCalls: 1},
		{name: "nothing to send asks nothing", key: testKey, q: oneAPQuery,
			respond: answer(200, `{}`), wantErr: geo.ErrNotFound, wantCalls: 0},
		{name: "404 is not found", key: testKey, q: wifiQuery,
			respond: answer(404, `{"error":{"errors":[{"domain":"geolocation","reason":"notFound","message":"Not found"}],"code":404,"message":"Not found"}}`),
			wantErr: geo.ErrNotFound, wantCalls: 1},
		{name: "500 is a failure", key: testKey, q: wifiQuery,
			respond: answer(500, `{"error":{"code":500,"message":"backend error"}}`), wantErrMsg: "status 500 (backend error)", wantCalls: 1},
		{name: "quota", key: testKey, q: wifiQuery,
			respond: answer(403, `{"error":{"code":403,"message":"Limit","errors":[{"reason":"dailyLimitExceeded"}]}}`), wantErrMsg: "dailyLimitExceeded", wantCalls: 1},
		{name: "wrong key", key: "wrong", q: wifiQuery, wantErrMsg: "keyInvalid", wantCalls: 1},
		{name: "garbage", key: testKey, q: wifiQuery,
			respond: answer(200, `<html>Service temporarily unavailable</html>`), wantErrMsg: "not geolocate JSON", wantCalls: 1},
		{name: "no accuracy", key: testKey, q: wifiQuery,
			respond: answer(200, `{"location":{"lat":52.52,"lng":13.4}}`), wantErrMsg: "lacks", wantCalls: 1},
		{name: "0,0 is not a position", key: testKey, q: wifiQuery,
			respond: answer(200, `{"location":{"lat":0,"lng":0},"accuracy":20}`), wantErrMsg: "impossible", wantCalls: 1},
		{name: "off the globe", key: testKey, q: wifiQuery,
			respond: answer(200, `{"location":{"lat":95,"lng":13.4},"accuracy":20}`), wantErrMsg: "impossible", wantCalls: 1},
		{name: "too large", key: testKey, q: wifiQuery,
			respond: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(200)
				io.WriteString(w, `{"location":{"lat":52.52,"lng":13.4},"accuracy":20,"padding":"`)
				io.WriteString(w, strings.Repeat("x", 1<<20))
				io.WriteString(w, `"}`)
			}, wantErrMsg: "larger than", wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeGeolocate{t: t, respond: tt.respond}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			r := &geo.Remote{URL: srv.URL + "/v1/geolocate", Key: tt.key, Client: srv.Client()}
			if r.Name() != "remote" {
				t.Fatalf("Name = %q", r.Name())
			}
			fix, err := r.Locate(context.Background(), tt.q)
			if got := fake.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d requests, want %d", got, tt.wantCalls)
			}
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.wantErrMsg != "":
				if err == nil || errors.Is(err, geo.ErrNotFound) || !strings.Contains(err.Error(), tt.wantErrMsg) {
					t.Fatalf("err = %v, want a failure saying %q", err, tt.wantErrMsg)
				}
				if strings.Contains(err.Error(), tt.key) {
					t.Errorf("the error shows the key: %v", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if fix.Source != tt.wantSource || fix.Accuracy != tt.wantAcc || fix.Provider != "remote" {
				t.Errorf("fix %+v, want source %s accuracy %v", fix, tt.wantSource, tt.wantAcc)
			}
			if tt.check != nil {
				tt.check(t, fake.last.Load())
			}
		})
	}
}

// TestRemoteErrorHidesKey checks that a transport failure, whose url.Error would print the whole
// URL, does not carry the key into a log.
func TestRemoteErrorHidesKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	r := &geo.Remote{URL: url + "/v1/geolocate", Key: testKey}
	_, err := r.Locate(context.Background(), wifiQuery)
	if err == nil || errors.Is(err, geo.ErrNotFound) {
		t.Fatalf("err = %v, want a connection failure", err)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("the error shows the key: %v", err)
	}
}

// TestRemoteSlowUnderChain checks that a service that does not answer costs the chain its Timeout
// and no more, and that the next provider still places the watch.
func TestRemoteSlowUnderChain(t *testing.T) {
	release := make(chan struct{})
	fake := &fakeGeolocate{t: t, respond: func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	defer close(release)
	remote := &geo.Remote{URL: srv.URL + "/v1/geolocate", Key: testKey, Client: srv.Client()}

	towers, aps := testStores()
	tests := []struct {
		name      string
		providers []geo.Provider
		wantFix   bool
	}{
		{"alone", []geo.Provider{remote}, false},
		{"before the local data", []geo.Provider{remote, geo.NewLocal(towers, aps)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &geo.Chain{Providers: tt.providers, Timeout: 100 * time.Millisecond}
			start := time.Now()
			fix, err := c.Locate(context.Background(), wifiQuery)
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Locate took %v with a 100 ms timeout", elapsed)
			}
			if !tt.wantFix {
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, geo.ErrNotFound) {
					t.Fatalf("err = %v, want the deadline", err)
				}
				if c.CacheLen() != 0 {
					t.Errorf("a timeout was cached")
				}
				return
			}
			if err != nil || fix.Provider != "local" {
				t.Fatalf("fix %+v, err %v; want the local fix", fix, err)
			}
		})
	}
}
