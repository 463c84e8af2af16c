package watchproto

// AppendMessage appends m as a device→server frame, the way a watch would send it: the simulator's
// encoder, and the inverse of Decode (decoding the result gives back m's data). Type selects the layout
// within m's Kind; absent optional values (Present) are written as empty fields, binary payloads are
// escaped, text fields are written raw, and LEN is computed. Values a watch cannot express are
// normalised: a Location without coordinates is written as 0,0, and all cells take the first cell's
// MCC/MNC.
func AppendMessage(dst []byte, m *Message) []byte {
	dst, at := beginFrame(dst, m.Manufacturer, m.Device, m.Index)
	dst = m.appendContent(dst)
	return endFrame(dst, at)
}

func (m *Message) appendContent(dst []byte) []byte {
	switch m.Kind {
	case KindHeartbeat:
		dst = append(dst, m.Type...)
		return m.appendHeartbeat(dst)
	case KindLocation:
		dst = append(dst, m.Type...)
		switch m.Type {
		case "WAD":
			dst = append(dst, ',')
			dst = append(dst, m.Location.Language...)
		case "PP":
			dst = append(dst, ',')
			dst = append(dst, m.Location.PPTime...)
		}
		return m.appendLocation(dst)
	case KindCellReport:
		dst = append(dst, m.Type...)
		return appendCells(append(dst, ','), m.Location.Cells)
	case KindHealth:
		dst = append(dst, m.Type...)
		return m.appendHealth(dst)
	case KindAudio:
		dst = append(dst, m.Type...)
		if m.Type == "JXTK" {
			dst = append(dst, ",0,"...)
			dst = append(dst, m.FileName...)
			dst = append(appendInt(append(dst, ','), int64(m.Part)), ',')
			dst = appendInt(dst, int64(m.Total))
		}
		return AppendEscaped(append(dst, ','), m.Payload)
	case KindImage:
		dst = append(dst, m.Type...)
		dst = append(appendInt(append(dst, ','), int64(m.ImageSource)), ',')
		if !m.ImageTime.IsZero() {
			dst = m.ImageTime.UTC().AppendFormat(dst, "060102150405")
		}
		return AppendEscaped(append(dst, ','), m.Payload)
	case KindICCID:
		dst = append(dst, m.Type...)
		return append(append(dst, ','), m.ICCID...)
	case KindConfig:
		dst = append(dst, m.Type...)
		for _, kv := range m.Config {
			dst = append(dst, ',')
			dst = append(dst, kv.Key...)
			dst = append(dst, ':')
			dst = append(dst, kv.Value...)
		}
		return dst
	case KindCommandReply:
		if equalFold([]byte(m.Type), m.Keyword) {
			dst = append(dst, m.Type...)
		} else {
			dst = append(dst, m.Keyword...)
		}
		if m.Data != "" {
			dst = append(append(dst, ','), m.Data...)
		}
		return dst
	default: // KindVoiceQuery has no fields; KindInit, KindWiFiInfo and KindUnknown carry Fields.
		dst = append(dst, m.Type...)
		for _, f := range m.Fields {
			dst = append(append(dst, ','), f...)
		}
		return dst
	}
}

// appendOptInt writes ",value", or "," for an absent value.
func (m *Message) appendOptInt(dst []byte, bit Fields, v int64) []byte {
	dst = append(dst, ',')
	if m.Present.Has(bit) {
		dst = appendInt(dst, v)
	}
	return dst
}

func (m *Message) appendOptFloat(dst []byte, bit Fields, v float64) []byte {
	dst = append(dst, ',')
	if m.Present.Has(bit) {
		dst = appendFloat(dst, v)
	}
	return dst
}

func (m *Message) appendHeartbeat(dst []byte) []byte {
	h := m.Heartbeat
	bits := [...]Fields{FieldSteps, FieldRolls, FieldBattery}
	vals := [...]int64{h.Steps, int64(h.Rolls), int64(h.Battery)}
	// Trailing absent values are left out, as watches send a bare LK.
	n := 0
	for i, bit := range bits {
		if m.Present.Has(bit) {
			n = i + 1
		}
	}
	for i := 0; i < n; i++ {
		dst = m.appendOptInt(dst, bits[i], vals[i])
	}
	return dst
}

func (m *Message) appendLocation(dst []byte) []byte {
	l := &m.Location
	dst = append(dst, ',')
	if !l.Time.IsZero() {
		dst = l.Time.UTC().AppendFormat(dst, "020106,150405")
	} else {
		dst = append(dst, ',')
	}
	if l.Valid {
		dst = append(dst, ",A,"...)
	} else {
		dst = append(dst, ",V,"...)
	}
	if l.HasCoords {
		dst = appendCoordFull(dst, l.Lat, 'N', 'S')
		dst = append(dst, ',')
		dst = appendCoordFull(dst, l.Lon, 'E', 'W')
	} else {
		dst = append(dst, "0,N,0,E"...)
	}
	dst = m.appendOptFloat(dst, FieldSpeed, l.Speed)
	dst = m.appendOptFloat(dst, FieldCourse, l.Course)
	dst = m.appendOptFloat(dst, FieldAltitude, l.Altitude)
	dst = m.appendOptInt(dst, FieldSatellites, int64(l.Satellites))
	dst = m.appendOptInt(dst, FieldSignal, int64(l.Signal))
	dst = m.appendOptInt(dst, FieldBattery, int64(l.Battery))
	dst = m.appendOptInt(dst, FieldSteps, l.Steps)
	dst = m.appendOptInt(dst, FieldRolls, int64(l.Rolls))
	dst = append(dst, ',')
	switch {
	case l.Status != "":
		dst = append(dst, l.Status...)
	case m.Present.Has(FieldStatus) || l.StatusBits != 0:
		for s := 28; s >= 0; s -= 4 {
			dst = append(dst, hexDigits[l.StatusBits>>s&0xF])
		}
	}
	dst = appendCells(append(dst, ','), l.Cells)
	dst = appendInt(append(dst, ','), int64(len(l.WiFi)))
	for _, w := range l.WiFi {
		dst = append(dst, ',')
		dst = append(dst, w.SSID...)
		dst = append(dst, ',')
		dst = append(dst, w.MAC...)
		dst = appendInt(append(dst, ','), int64(w.RSSI))
	}
	if m.Present.Has(FieldAccuracy) {
		dst = appendFloat(append(dst, ','), l.Accuracy)
	}
	return dst
}

// appendCells writes n[,ta,mcc,mnc,(lac,cid,rssi)*n]; the timing advance is not kept, so it is 255.
func appendCells(dst []byte, cells []Cell) []byte {
	dst = appendInt(dst, int64(len(cells)))
	if len(cells) == 0 {
		return dst
	}
	dst = append(dst, ",255,"...)
	dst = appendInt(dst, int64(cells[0].MCC))
	dst = appendInt(append(dst, ','), int64(cells[0].MNC))
	for _, c := range cells {
		dst = appendInt(append(dst, ','), c.LAC)
		dst = appendInt(append(dst, ','), c.CID)
		dst = append(dst, ',')
		if c.HasRSSI {
			dst = appendInt(dst, int64(c.RSSI))
		}
	}
	return dst
}

// appendCoordFull writes |v| exactly (shortest round-tripping form) and its hemisphere letter.
func appendCoordFull(dst []byte, v float64, pos, neg byte) []byte {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	dst = appendFloat(dst, v)
	return append(dst, ',', h)
}

func (m *Message) appendHealth(dst []byte) []byte {
	h := m.Health
	d := healthDecoder(m.Type)
	switch d {
	case decHeart:
		dst = m.appendOptInt(dst, FieldHeartRate, int64(h.HeartRate))
	case decBlood, decBPHRT:
		dst = append(dst, ',')
		if m.Present.Has(FieldBloodPressure) {
			dst = appendInt(dst, int64(h.Systolic))
			dst = appendInt(append(dst, ','), int64(h.Diastolic))
		} else {
			dst = append(dst, ',')
		}
		if d == decBPHRT || m.Present.Has(FieldHeartRate) {
			dst = m.appendOptInt(dst, FieldHeartRate, int64(h.HeartRate))
		}
	case decOxygen:
		dst = m.appendOptInt(dst, FieldMode, int64(h.Mode))
		dst = m.appendOptInt(dst, FieldSpO2, int64(h.SpO2))
	case decBtemp:
		dst = m.appendOptInt(dst, FieldMode, int64(h.Mode))
		dst = m.appendOptFloat(dst, FieldTemperature, h.Temperature)
	case decTemp:
		dst = m.appendOptFloat(dst, FieldTemperature, h.Temperature)
	}
	return dst
}
