package geo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kinwatch"
)

// Remote is the provider named "remote": a geolocation service speaking the widely used
// "geolocate" format (Google's Geolocation API, and the Mozilla Location Service's successors such as
// BeaconDB): POST {URL}?key={Key} with the cells and access points, answered with a position and
// an accuracy, or 404 when the service cannot place them.
//
// It sends only what locating needs: cell ids, MAC addresses and Wi-Fi signals, never SSIDs, and
// considerIp false so the service does not place the server instead. Access points go only in
// pairs or more (services refuse a single one, which could identify one household), and cell signals
// are not sent because the watches do not report them in dBm (see CellSignal). A client error
// never carries the URL, so the key stays out of logs.
type Remote struct {
	URL, Key string
	Client   *http.Client // nil: a client with a 10 s timeout
}

// maxRemoteResponse bounds what is read of an answer: a real one is under 200 bytes.
const maxRemoteResponse = 64 << 10

// wifiPlausibleAccuracy is the worst accuracy credited to Wi-Fi when cells were sent as well: a
// service that knew none of the access points answers from the cells, with a radius of kilometres.
const wifiPlausibleAccuracy = 500.0 // metres

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Name implements Provider.
func (r *Remote) Name() string { return "remote" }

type geolocateRequest struct {
	ConsiderIP       bool            `json:"considerIp"`
	CellTowers       []geolocateCell `json:"cellTowers"`
	WiFiAccessPoints []geolocateAP   `json:"wifiAccessPoints"`
}

type geolocateCell struct {
	MCC    int   `json:"mobileCountryCode"`
	MNC    int   `json:"mobileNetworkCode"`
	LAC    int64 `json:"locationAreaCode"`
	CID    int64 `json:"cellId"`
	Signal int   `json:"signalStrength,omitempty"` // dBm, only when the watch sent dBm
}

type geolocateAP struct {
	MAC    string `json:"macAddress"`
	Signal int    `json:"signalStrength,omitempty"` // dBm
}

type geolocateResponse struct {
	Location *struct {
		Lat *float64 `json:"lat"`
		Lng *float64 `json:"lng"`
	} `json:"location"`
	Accuracy *float64 `json:"accuracy"`
}

type geolocateError struct {
	Error struct {
		Message string `json:"message"`
		Errors  []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	} `json:"error"`
}

// Locate implements Provider.
func (r *Remote) Locate(ctx context.Context, q Query) (Fix, error) {
	h := prepare(q)
	req := geolocateRequest{CellTowers: []geolocateCell{}, WiFiAccessPoints: []geolocateAP{}}
	for _, c := range h.cells {
		gc := geolocateCell{MCC: c.key.MCC, MNC: c.key.MNC, LAC: c.key.LAC, CID: c.key.CID}
		if s, trueDBm, ok := CellSignal(c.raw); ok && trueDBm {
			gc.Signal = s
		}
		req.CellTowers = append(req.CellTowers, gc)
	}
	if len(h.aps) >= 2 {
		for _, a := range h.aps {
			s, _ := WiFiSignal(a.raw)
			req.WiFiAccessPoints = append(req.WiFiAccessPoints, geolocateAP{MAC: a.mac, Signal: s})
		}
	}
	if len(req.CellTowers) == 0 && len(req.WiFiAccessPoints) == 0 {
		return Fix{}, ErrNotFound // nothing a service could use: spare the request and the quota
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Fix{}, fmt.Errorf("geo: remote: %w", err)
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return Fix{}, errors.New("geo: remote: the URL is not an http(s) URL")
	}
	if r.Key != "" {
		v := u.Query()
		v.Set("key", r.Key)
		u.RawQuery = v.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Fix{}, errors.New("geo: remote: cannot build the request")
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	client := r.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would print the key
		}
		return Fix{}, fmt.Errorf("geo: remote: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteResponse+1))
	if err != nil {
		return Fix{}, fmt.Errorf("geo: remote: reading the answer: %w", err)
	}
	if len(raw) > maxRemoteResponse {
		return Fix{}, fmt.Errorf("geo: remote: answer larger than %d bytes", maxRemoteResponse)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Fix{}, ErrNotFound
	default:
		return Fix{}, fmt.Errorf("geo: remote: status %d%s", resp.StatusCode, errorReason(raw))
	}

	var ans geolocateResponse
	if err := json.Unmarshal(raw, &ans); err != nil {
		return Fix{}, errors.New("geo: remote: the answer is not geolocate JSON")
	}
	if ans.Location == nil || ans.Location.Lat == nil || ans.Location.Lng == nil || ans.Accuracy == nil {
		return Fix{}, errors.New("geo: remote: the answer lacks location or accuracy")
	}
	lat, lon, acc := *ans.Location.Lat, *ans.Location.Lng, *ans.Accuracy
	if !validCoords(lat, lon) || !(acc >= 0) || math.IsInf(acc, 0) {
		return Fix{}, errors.New("geo: remote: the answer holds an impossible position or accuracy")
	}
	source := kinwatch.SourceCell
	if len(req.WiFiAccessPoints) >= 2 && (len(req.CellTowers) == 0 || acc <= wifiPlausibleAccuracy) {
		source = kinwatch.SourceWiFi
	}
	return Fix{Lat: lat, Lon: lon, Accuracy: max(acc, floorFor(source)), Source: source, Provider: "remote"}, nil
}

// errorReason returns " (reason)" from a geolocate error body, for the operator's log; the text is
// the service's own and carries nothing of the query.
func errorReason(raw []byte) string {
	var e geolocateError
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	reason := e.Error.Message
	if len(e.Error.Errors) > 0 && e.Error.Errors[0].Reason != "" {
		reason = e.Error.Errors[0].Reason
	}
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, reason)
	if len(reason) > 80 {
		reason = strings.ToValidUTF8(reason[:80], "")
	}
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}
