package storetest

import (
	"testing"
	"time"

	"kinwatch"
)

var keyTests = []storeTest{
	{"SealedPositionsRoundTrip", testSealedPositionsRoundTrip},
	{"KeyRotationAndShredding", testKeyRotationAndShredding},
	{"MediaOfAnotherFamily", testMediaOfAnotherFamily},
}

// testSealedPositionsRoundTrip: the sealed part of a position (coordinates, altitude, accuracy,
// Wi-Fi and cells) comes back exactly, through every read.
func testSealedPositionsRoundTrip(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	BoundWatches(t, s, "w1")
	p := &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: "w1", Type: "UD", Time: t0, Received: t0, Valid: true, Source: kinwatch.SourceGPS,
		Lat: -33.8688197, Lon: 151.2092955, HasCoords: true, Altitude: 58.5, Accuracy: 12.25, Speed: 3,
		Cells: []kinwatch.Cell{{MCC: 505, MNC: 1, LAC: 1234, CID: 56789, RSSI: -70}},
		WiFi:  []kinwatch.WiFi{{SSID: "Café \"Kids\" \u00e9", MAC: "00:11:22:33:44:55", RSSI: -50}}}
	write(t, s, kinwatch.Record{Position: p})
	got, err := s.LatestPosition(ctx, "w1")
	if err != nil {
		t.Fatalf("LatestPosition: %v", err)
	}
	same(t, "LatestPosition", got, p)
	many, err := s.LatestPositions(ctx, []string{"w1"})
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	same(t, "LatestPositions", many["w1"], p)
	list, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "w1"})
	if err != nil || len(list) != 1 {
		t.Fatalf("Positions: %d, %v", len(list), err)
	}
	same(t, "Positions", list[0], p)
}

// testKeyRotationAndShredding: data sealed before a key rotation still opens after it; after the
// family's keys are shredded, none of its sealed data opens any more, while another family's does.
func testKeyRotationAndShredding(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	BoundWatches(t, s, "w2")
	pos := func(dev string, at time.Time) kinwatch.Record {
		return kinwatch.Record{Position: &kinwatch.Position{ID: kinwatch.NewID(), DeviceID: dev, Time: at, Lat: 48.2, Lon: 16.37, HasCoords: true}}
	}
	write(t, s, pos("w1", t0), pos("w2", t0))
	child := &kinwatch.ChildProfile{DeviceID: "w1", Name: "Mia", Phone: "+4915112345678", School: "North", HeightCM: 120, UpdatedAt: t0}
	if err := s.PutChildProfile(ctx, fam, child); err != nil {
		t.Fatalf("PutChildProfile: %v", err)
	}
	if got, err := s.ChildProfile(ctx, "w1"); err != nil {
		t.Fatalf("ChildProfile: %v", err)
	} else {
		same(t, "sealed child profile", got, child)
	}
	if err := s.RotateKey(ctx, kinwatch.FamilyOwner(fam)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	write(t, s, pos("w1", t0.Add(time.Minute)))
	ps, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "w1"})
	if err != nil || len(ps) != 2 || ps[0].Lat != 48.2 || ps[1].Lon != 16.37 {
		t.Fatalf("positions sealed before and after a rotation: %d, %v", len(ps), err)
	}
	// The new version seals; the old one still opens what it sealed.
	sealed, err := s.Keys().Seal(ctx, kinwatch.FamilyOwner(fam), []byte("aad"), []byte("secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if err := s.ShredKeys(ctx, kinwatch.FamilyOwner(fam)); err != nil {
		t.Fatalf("ShredKeys: %v", err)
	}
	if _, err := s.Positions(ctx, kinwatch.PositionFilter{DeviceID: "w1"}); err == nil {
		t.Error("the family's positions still open after its keys were shredded")
	}
	if _, err := s.Keys().Open(ctx, kinwatch.FamilyOwner(fam), []byte("aad"), sealed); err == nil {
		t.Error("a value sealed with the family's key still opens after shredding")
	}
	if _, err := s.ChildProfile(ctx, "w1"); err == nil {
		t.Error("the child's profile still opens after shredding")
	}
	if p, err := s.LatestPosition(ctx, "w2"); err != nil || p.Lat != 48.2 {
		t.Errorf("another family's position after shredding: %+v, %v", p, err)
	}
	// Nothing was written to the shredded family's key since: a new batch fails only for it
	// (the writer isolates it), and the key does not come back by itself.
	err = s.WriteBatch(ctx, []kinwatch.Record{pos("w1", t0.Add(2*time.Minute))})
	wantCode(t, "WriteBatch for a family whose keys were shredded", err, kinwatch.EINVALID)
	if n, err := s.RewrapKeys(ctx); err != nil || n != 0 {
		t.Errorf("RewrapKeys with one master: %d, %v; want 0", n, err)
	}
}

// testMediaOfAnotherFamily: content sealed for the family a watch has left is not filed under its
// new family (which could not open it): the record is dropped, as the gateway's stale view allows.
func testMediaOfAnotherFamily(t *testing.T, s kinwatch.Store) {
	ctx := t.Context()
	fam := BoundWatches(t, s, "w1")
	recs := []kinwatch.Record{
		{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: "w1", Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: "w1/a", Size: 1, Time: t0, Family: "another family"}},
		{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: "w1", Kind: kinwatch.MediaAudio, ContentType: "audio/amr", Key: "w1/b", Size: 1, Time: t0, Family: fam}},
	}
	write(t, s, recs...)
	if recs[0].Media != nil || recs[1].Media == nil {
		t.Errorf("kept: another family's %v, its own %v; want only its own", recs[0].Media != nil, recs[1].Media != nil)
	}
	ms, err := s.MediaList(ctx, "w1", kinwatch.Page{})
	if err != nil || len(ms) != 1 || ms[0].Key != "w1/b" {
		t.Errorf("stored media: %d %v", len(ms), err)
	}
}
