package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/geo"
)

// A watch indoors that hears only Wi-Fi access points and a cell that neither the local towers
// nor the learned map know is placed by the remote geolocate service, within the radius the
// service gives, with source wifi; its SSIDs never leave the server.
func TestIndoorReportPlacedByRemoteService(t *testing.T) {
	var calls atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			ConsiderIP bool `json:"considerIp"`
			WiFi       []struct {
				MAC  string `json:"macAddress"`
				SSID string `json:"ssid"`
			} `json:"wifiAccessPoints"`
		}
		if r.URL.Query().Get("key") != "k3y" || json.NewDecoder(r.Body).Decode(&req) != nil || req.ConsiderIP || len(req.WiFi) != 2 || req.WiFi[0].SSID != "" {
			t.Errorf("geolocate request %s %+v", r.URL.Path, req)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"location":{"lat":48.137154,"lng":11.576124},"accuracy":35}`)
	}))
	defer remote.Close()
	cfg := testConfig(t)
	cfg.GeolocateURL, cfg.GeolocateKey = remote.URL+"/v1/geolocate", "k3y"
	a, api, smtp, _ := startAPIWith(t, cfg)
	mum := api.signUp(smtp, "mum.geo@example.org", "Mum", cfg.PolicyVersion)
	w := dialWatch(t, a.WatchAddr().String(), "8800000061")
	w.send("LK")
	w.expect("LK")
	api.bindWatch(mum, w, "Indoors")
	at := time.Now().UTC().Add(-time.Minute)
	w.send("UD," + at.Format("020106,150405") + ",V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,1,255,262,1,4711,4242,158,2,kitchen-xulix,a4:56:02:61:7f:1a,-45,upstairs,a4:56:02:61:7f:1b,-60")
	w.send("LK")
	w.expect("LK")
	var p *kinwatch.Position
	waitFor(t, "the indoor position", func() bool {
		var err error
		p, err = a.Store.LatestPosition(t.Context(), w.id)
		return err == nil
	})
	if !p.HasCoords || p.Source != kinwatch.SourceWiFi || p.Accuracy != 35 || geo.Distance(p.Lat, p.Lon, 48.137154, 11.576124) > p.Accuracy {
		t.Errorf("indoor position %+v; want the service's, source wifi, accuracy 35 m", p)
	}
	if calls.Load() != 1 {
		t.Errorf("the service was asked %d times", calls.Load())
	}
	// The report itself keeps what the watch heard (sealed with the family's key).
	if len(p.WiFi) != 2 || p.WiFi[0].SSID != "kitchen-xulix" || len(p.Cells) != 1 {
		t.Errorf("the stored report: Wi-Fi %+v, cells %+v", p.WiFi, p.Cells)
	}
}
