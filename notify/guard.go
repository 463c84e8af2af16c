package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// NewHTTPClient returns the client the channels post with. Unless allowPrivate, it refuses to
// connect to loopback, private, link-local and other non-public addresses, checked on the
// address actually dialled (so a name that resolves to one, or is re-pointed after a check, is
// refused too): a family's webhook URL must not become a way into the operator's own network.
// A self-hosted box that posts to Home Assistant on the home network allows them.
func NewHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || !public(ip) {
				return errPrivate
			}
			return nil
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	t.Proxy = nil // a proxy would dial for us, past the check
	return &http.Client{Timeout: timeout, Transport: t,
		// A redirect is not followed: the receiver was asked to take the alarm, not to send it
		// elsewhere (and a redirect could point at a private address by name).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var errPrivate = errors.New("the address is not a public internet address (see --notify-allow-private)")

// public reports whether ip is an ordinary internet address: not in any of IANA's
// special-purpose ranges (loopback, private, link-local, shared, documentation, benchmarking,
// reserved …), and, for the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4), not
// carrying one that is not public either.
func public(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return public(net.IP(b[12:16]))
		case sixToFour.Contains(a):
			return public(net.IP(b[2:6]))
		}
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range special {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	// special are the IANA special-purpose ranges that IsGlobalUnicast and IsPrivate let through.
	special = func() []netip.Prefix {
		var ps []netip.Prefix
		for _, s := range []string{
			"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
			"203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
			"64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fec0::/10", "3fff::/20", "5f00::/16",
		} {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		return ps
	}()
)

// CheckURL reports whether u is an address a channel may post to: absolute http(s) with a host,
// https unless allowPrivate (a box on a home network may post to http://homeassistant.local),
// without user information (which would be logged by proxies).
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return errors.New("not an absolute URL")
	case u.Scheme != "https" && !(u.Scheme == "http" && allowPrivate):
		if allowPrivate {
			return errors.New("must be http or https")
		}
		return errors.New("must be https")
	case u.User != nil:
		return errors.New("must not carry a user name or password; put a token in the path or the query")
	case len(raw) > 2048:
		return errors.New("longer than 2048 characters")
	}
	if !allowPrivate {
		if ip := net.ParseIP(u.Hostname()); ip != nil && !public(ip) {
			return errPrivate
		}
	}
	return nil
}

// attemptError is what an attempt's failure says, without the address: http.Client errors name
// the URL, which can carry a token.
func attemptError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("the receiver did not answer in time")
	case errors.Is(err, errPrivate):
		return errPrivate
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("could not connect to the receiver (%s)", op.Op)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return errors.New("the receiver's name does not resolve")
	}
	return errors.New("the request failed")
}

// statusResult maps a receiver's HTTP status to a Result.
func statusResult(resp *http.Response) Result {
	r := Result{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		r.Err, r.Gone = fmt.Errorf("the receiver answered %d: it no longer exists", resp.StatusCode), true
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		r.Err = fmt.Errorf("the receiver answered %d; will retry", resp.StatusCode)
		if s := resp.Header.Get("Retry-After"); s != "" {
			if d, err := time.ParseDuration(s + "s"); err == nil {
				r.RetryAfter = d
			} else if t, err := http.ParseTime(s); err == nil {
				r.RetryAfter = time.Until(t)
			}
		}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.Err, r.Permanent = fmt.Errorf("the receiver answered %d (a redirect, not followed): check the address", resp.StatusCode), true
	default:
		r.Err, r.Permanent = fmt.Errorf("the receiver refused the request (%d)", resp.StatusCode), true
	}
	return r
}
