package watchproto

import "math"

// decodeLocation parses the location block (reference section 2). It is lenient by design: every
// field may be empty or missing from some point on, and what cannot be parsed is left absent rather
// than failing the frame, because a V fix with only cells or Wi-Fi is still worth geolocating.
func (m *Message) decodeLocation(f splitter) {
	l := &m.Location
	date, _ := f.next()
	hms, _ := f.next()
	if len(date) == 6 {
		l.Time = civil(date[0:2], date[2:4], date[4:6], hms)
	}
	v, _ := f.next()
	l.Valid = len(v) == 1 && v[0] == 'A'

	latb, _ := f.next()
	ns, _ := f.next()
	lonb, _ := f.next()
	ew, _ := f.next()
	lat, ok1 := parseFloat(latb)
	lon, ok2 := parseFloat(lonb)
	// A hemisphere letter overrides the sign; without one (some LTE firmwares) the sign stands.
	if string(trimSpace(ns)) == "S" {
		lat = -math.Abs(lat)
	}
	if string(trimSpace(ew)) == "W" {
		lon = -math.Abs(lon)
	}
	if ok1 && ok2 && (lat != 0 || lon != 0) && math.Abs(lat) <= 90 && math.Abs(lon) <= 180 {
		l.Lat, l.Lon, l.HasCoords = lat, lon, true
	}

	m.locFloat(&f, &l.Speed, FieldSpeed)
	m.locFloat(&f, &l.Course, FieldCourse)
	m.locFloat(&f, &l.Altitude, FieldAltitude)
	m.locInt(&f, &l.Satellites, FieldSatellites)
	m.locInt(&f, &l.Signal, FieldSignal)
	m.locInt(&f, &l.Battery, FieldBattery)
	if b, ok := f.next(); ok {
		if n, ok := parseInt(b); ok {
			l.Steps, m.Present = n, m.Present|FieldSteps
		}
	}
	m.locInt(&f, &l.Rolls, FieldRolls)

	if st, ok := f.next(); ok && len(st) > 0 {
		l.Status = m.str(st)
		m.Present |= FieldStatus
		if len(st) <= 8 {
			if bits, ok := parseHex(st); ok {
				l.StatusBits = uint32(bits)
				l.Alarms = alarmsFromStatus(l.StatusBits)
				l.Static = l.StatusBits&StatusStatic != 0
				l.Wear = WearOn
				if l.StatusBits&StatusNotWorn != 0 {
					l.Wear = WearOff
				}
			}
		}
	}

	if !m.decodeCells(&f) {
		return
	}
	// Wi-Fi comes next whether or not there were cells (Traccar loses it when there are none).
	wb, ok := f.next()
	if !ok || len(wb) == 0 {
		// An empty count is the SG firmwares' ",,00" trailer: nothing more to read.
		return
	}
	w, ok := parseSmall(wb)
	if !ok || w < 0 {
		return
	}
	for i := 0; i < w; i++ {
		ssid, ok1 := f.next()
		mac, ok2 := f.next()
		rssi, ok3 := f.next()
		if !ok2 {
			return
		}
		if len(mac) > 0 {
			ap := WiFi{SSID: m.str(ssid), MAC: m.str(mac)}
			if ok3 {
				ap.RSSI, _ = parseSmall(rssi)
			}
			l.WiFi = append(l.WiFi, ap)
		}
		if !ok1 || !ok3 {
			return
		}
	}
	if b, ok := f.next(); ok {
		if a, ok := parseFloat(b); ok && a > 0 {
			l.Accuracy, m.Present = a, m.Present|FieldAccuracy
		}
	}
	// Anything after the accuracy is an unknown trailer and is ignored.
}

// decodeCells parses "n[,ta,mcc,mnc,(lac,cid,rssi)*n]" into Location.Cells. It reports whether the
// count was there, i.e. whether the fields after it can be read. LAC and CID are decimal unless any of
// them in the frame holds a hex letter: SG firmwares write them all in hex (55C0,3B882A2, FFFF).
func (m *Message) decodeCells(f *splitter) bool {
	nb, ok := f.next()
	if !ok {
		return false
	}
	n, ok := parseSmall(nb)
	if !ok || n < 0 {
		return false
	}
	if n == 0 {
		return true
	}
	f.next() // timing advance ("connect to base"), not used for anything
	mccb, _ := f.next()
	mncb, _ := f.next()
	mcc, _ := parseCode(mccb)
	mnc, _ := parseCode(mncb)
	start := *f
	if !m.cellList(f, n, mcc, mnc, false) {
		*f = start
		m.cellList(f, n, mcc, mnc, true)
	}
	return true
}

// cellList parses n (lac,cid,rssi) triples into Location.Cells. In decimal mode it gives up and
// reports false at the first hex letter, so the caller can start over in hex.
func (m *Message) cellList(f *splitter, n, mcc, mnc int, hex bool) bool {
	parse := parseInt
	if hex {
		parse = parseHex
	}
	m.Location.Cells = m.Location.Cells[:0]
	for i := 0; i < n; i++ {
		lacb, _ := f.next()
		cidb, ok := f.next()
		if !ok {
			return true
		}
		if !hex && (hasHexLetter(lacb) || hasHexLetter(cidb)) {
			return false
		}
		rssib, more := f.next()
		lac, okl := parse(lacb)
		cid, okc := parse(cidb)
		if okl && okc {
			c := Cell{MCC: mcc, MNC: mnc, LAC: lac, CID: cid}
			if more {
				c.RSSI, c.HasRSSI = parseSmall(rssib)
			}
			m.Location.Cells = append(m.Location.Cells, c)
		}
		if !more {
			return true
		}
	}
	return true
}

// parseCode parses an MCC or MNC: decimal, or hex when it holds a letter (FFFF marks "unknown").
func parseCode(b []byte) (int, bool) {
	var n int64
	var ok bool
	if hasHexLetter(b) {
		n, ok = parseHex(b)
	} else {
		n, ok = parseInt(b)
	}
	if !ok || n < 0 || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

func (m *Message) locFloat(f *splitter, dst *float64, bit Fields) {
	if b, ok := f.next(); ok {
		if v, ok := parseFloat(b); ok {
			*dst, m.Present = v, m.Present|bit
		}
	}
}

func (m *Message) locInt(f *splitter, dst *int, bit Fields) {
	if b, ok := f.next(); ok {
		if v, ok := parseSmall(b); ok {
			*dst, m.Present = v, m.Present|bit
		}
	}
}
