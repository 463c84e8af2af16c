package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A watch asking for its address (WAD) gets the one a Nominatim server gives for where it is,
// with what the watch cannot show left out; the server is asked once for the same place.
func TestWatchAddressFromNominatim(t *testing.T) {
	var hits atomic.Int32
	nom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/reverse" || r.URL.Query().Get("format") != "jsonv2" || r.Header.Get("User-Agent") == "" {
			t.Errorf("Nominatim request %s %v", r.URL, r.Header)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"lat":"52.5200066","lon":"13.4049540","display_name":"15, Rathausstraße, Mitte, Berlin, 10178, Deutschland",
			"address":{"house_number":"15","road":"Rathausstraße","city":"Berlin","postcode":"10178","country":"Deutschland","country_code":"de"}}`)
	}))
	defer nom.Close()
	cfg := testConfig(t)
	cfg.NominatimURL = nom.URL
	a, api, smtp, _ := startAPIWith(t, cfg)
	mum := api.signUp(smtp, "mum.wad@example.org", "Mum", cfg.PolicyVersion)
	w := dialWatch(t, a.WatchAddr().String(), "8800000081")
	w.send("LK")
	w.expect("LK")
	api.bindWatch(mum, w, "Addresses")
	for range 2 {
		w.send("WAD,EN,291126,101500,A,52.520000,N,13.405000,E,0,0,0,9,80,67,0,0,00000000,0,0")
		got := w.expect("RAD")
		// The watch shows ASCII only: "ß" is left out rather than sent garbled.
		if got != "RAD,GPS,15, Rathausstrae, Mitte, Berlin, 10178, Deutschland" {
			t.Errorf("WAD answer %q", got)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("Nominatim asked %d times for one place, want 1", n)
	}
	// Without a fix nothing is looked up, and the watch still gets a well-formed answer.
	w.send("WAD,EN,291126,101600,V,0,N,0,E,0,0,0,0,80,67,0,0,00000000,0,0")
	if got := w.expect("RAD"); !strings.HasPrefix(got, "RAD,BASE,") || hits.Load() != 1 {
		t.Errorf("WAD without a fix: %q after %d lookups", got, hits.Load())
	}
}
