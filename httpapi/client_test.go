package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddress: X-Forwarded-For counts only when the peer is a trusted proxy, and then only
// up to the first address that is not one: what the client wrote further left is ignored.
func TestClientAddress(t *testing.T) {
	s := &Server{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.9"}, "192.0.2.1"}, // not a proxy: the header is the client's word
		{"10.1.2.3:5000", nil, "10.1.2.3"},
		{"10.1.2.3:5000", []string{"198.51.100.9"}, "198.51.100.9"},
		{"10.1.2.3:5000", []string{"203.0.113.66, 198.51.100.9"}, "198.51.100.9"},             // the client's own claim is left of it
		{"10.1.2.3:5000", []string{"203.0.113.66", "198.51.100.9, 10.9.9.9"}, "198.51.100.9"}, // two proxies, two headers
		{"10.1.2.3:5000", []string{"10.8.8.8, 10.9.9.9"}, "10.8.8.8"},                         // only proxies: the farthest
		{"10.1.2.3:5000", []string{"203.0.113.66, garbage"}, "10.1.2.3"},
		{"[::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"[::ffff:10.1.2.3]:5000", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
	} {
		r := httptest.NewRequest("GET", "/api/v1/me", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientOf(r).IP; got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
