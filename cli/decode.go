package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"kinwatch/watchproto"
)

func init() {
	register("decode", "decode a raw watch TCP stream to JSON lines", runDecode)
}

// decodeRecord is one output line. Its keys are a public contract: scripts parse them. Pointers mark
// values that are printed even when zero but omitted when the frame lacks them.
type decodeRecord struct {
	Manufacturer   string            `json:"manufacturer,omitempty"`
	Device         string            `json:"device,omitempty"`
	Index          string            `json:"index,omitempty"`
	Type           string            `json:"type,omitempty"`
	Kind           string            `json:"kind,omitempty"`
	LengthMismatch bool              `json:"length_mismatch,omitempty"`
	Time           string            `json:"time,omitempty"`
	Valid          *bool             `json:"valid,omitempty"`
	Lat            *float64          `json:"lat,omitempty"`
	Lon            *float64          `json:"lon,omitempty"`
	Speed          *float64          `json:"speed_kmh,omitempty"`
	Course         *float64          `json:"course,omitempty"`
	Altitude       *float64          `json:"altitude,omitempty"`
	Satellites     *int              `json:"satellites,omitempty"`
	Signal         *int              `json:"signal,omitempty"`
	Battery        *int              `json:"battery,omitempty"`
	Steps          *int64            `json:"steps,omitempty"`
	Status         string            `json:"status,omitempty"`
	Alarms         []string          `json:"alarms,omitempty"`
	Worn           *bool             `json:"worn,omitempty"`
	Cells          []decodeCell      `json:"cells,omitempty"`
	WiFi           []decodeWiFi      `json:"wifi,omitempty"`
	Accuracy       *float64          `json:"accuracy_m,omitempty"`
	HeartRate      *int              `json:"heart_rate,omitempty"`
	Systolic       *int              `json:"systolic,omitempty"`
	Diastolic      *int              `json:"diastolic,omitempty"`
	SpO2           *int              `json:"spo2,omitempty"`
	Temperature    *float64          `json:"temperature,omitempty"`
	AudioBytes     *int              `json:"audio_bytes,omitempty"`
	ImageBytes     *int              `json:"image_bytes,omitempty"`
	BadEscape      bool              `json:"bad_escape,omitempty"` // the payload stops at an invalid 0x7D escape
	ICCID          string            `json:"iccid,omitempty"`
	Config         map[string]string `json:"config,omitempty"`
	Keyword        string            `json:"keyword,omitempty"`
	Data           string            `json:"data,omitempty"`
	Fields         []string          `json:"fields,omitempty"`
	Reply          string            `json:"reply,omitempty"`
	Error          string            `json:"error,omitempty"`
	Frame          string            `json:"frame,omitempty"`
}

type decodeCell struct {
	MCC  int   `json:"mcc"`
	MNC  int   `json:"mnc"`
	LAC  int64 `json:"lac"`
	CID  int64 `json:"cid"`
	RSSI *int  `json:"rssi,omitempty"`
}

type decodeWiFi struct {
	SSID string `json:"ssid"`
	MAC  string `json:"mac"`
	RSSI int    `json:"rssi"`
}

// runDecode decodes a raw stream as it arrives (or a hex capture, whole) and prints one JSON object
// per frame.
func runDecode(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet("decode", stdio)
	hexIn := fs.Bool("hex", false, "the input is hex digits (whitespace ignored) instead of raw bytes")
	maxFrame := fs.Int("max", watchproto.DefaultMaxFrame, "the largest frame accepted, in bytes")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: kinwatch decode [--hex] [--max bytes] < capture\n\n"+
			"Prints one JSON object per frame of a raw watch TCP stream read from stdin. WG/WAD replies are\n"+
			"the \"not found\" answer: the decoder has no geolocation.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageErrorf("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q: the stream is read from stdin", fs.Arg(0))
	}
	if *maxFrame <= 0 {
		return usageErrorf("--max must be positive")
	}
	var src io.Reader = stdio.In
	if *hexIn {
		// Hex captures are files: decode them whole.
		in, err := io.ReadAll(stdio.In)
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
		if in, err = decodeHexInput(in); err != nil {
			return err
		}
		src = bytes.NewReader(in)
	}

	out := bufio.NewWriter(stdio.Out)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	d := &streamDecoder{enc: enc, framer: watchproto.NewFramer(*maxFrame), max: *maxFrame}
	// A raw stream is decoded as it arrives (nc -l 5093 | kinwatch decode shows each frame when it
	// comes), one line flushed per read.
	buf := make([]byte, 64<<10)
	var pending []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			var stop bool
			if pending, stop = d.process(append(pending, buf[:n]...)); stop {
				return d.finish(out)
			}
			if d.err == nil {
				d.err = out.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("reading stdin: %w", rerr)
		}
	}
	if i := bytes.IndexByte(pending, '['); i >= 0 {
		d.emit(&decodeRecord{Error: "incomplete frame at end of input (" + strconv.Itoa(len(pending)-i) + " bytes)"})
	}
	return d.finish(out)
}

// process decodes the complete frames in p and returns what is left for the next read: the start
// of an incomplete frame (or a few bytes that may begin the AQSH signature). p is framed afresh
// each time, so every frame aliases p and its offset is known: after an oversized frame, decoding
// resynchronises on the next '['. stop reports an encrypted stream (nothing more can be decoded).
func (d *streamDecoder) process(p []byte) (rest []byte, stop bool) {
	for len(p) > 0 {
		next := 0 // offset in p just past the last frame delivered
		d.framer.Reset()
		err := d.framer.Feed(p, func(frame []byte) error {
			next = cap(p) - cap(frame) + len(frame)
			return d.frame(frame)
		})
		switch {
		case err == nil:
			tail := p[next:]
			if i := bytes.IndexByte(tail, '['); i >= 0 {
				return tail[i:], false
			}
			// Only noise left: keep what could be the beginning of an AQSH signature.
			return tail[max(0, len(tail)-4):], false
		case errors.Is(err, watchproto.ErrEncrypted):
			d.emit(&decodeRecord{Error: err.Error()})
			return nil, true
		case errors.Is(err, watchproto.ErrFrameTooLarge):
			d.emit(&decodeRecord{Error: "frame larger than " + strconv.Itoa(d.max) + " bytes; skipped"})
			// Start again just after the oversized frame's '['; its remainder is skipped as noise.
			start := bytes.IndexByte(p[next:], '[')
			if start < 0 {
				return nil, false // cannot happen: the oversized frame began in p
			}
			p = p[next+start+1:]
		default:
			d.err = err
			return nil, true
		}
	}
	return nil, false
}

func decodeHexInput(in []byte) ([]byte, error) {
	digits := make([]byte, 0, len(in))
	for _, c := range in {
		switch c {
		case ' ', '\t', '\n', '\r', '\f', '\v':
		default:
			digits = append(digits, c)
		}
	}
	out := make([]byte, hex.DecodedLen(len(digits)))
	if _, err := hex.Decode(out, digits); err != nil {
		var inv hex.InvalidByteError
		if errors.As(err, &inv) {
			return nil, fmt.Errorf("--hex: input is not hex: invalid character %q", rune(inv))
		}
		return nil, fmt.Errorf("--hex: input is not hex: %v (an odd number of digits?)", err)
	}
	return out, nil
}

// streamDecoder turns frames into records, reusing one Message as the gateway does.
type streamDecoder struct {
	enc    *json.Encoder
	framer *watchproto.Framer
	max    int
	m      watchproto.Message
	err    error
}

func (d *streamDecoder) emit(r *decodeRecord) {
	if d.err == nil {
		d.err = d.enc.Encode(r)
	}
}

func (d *streamDecoder) finish(out *bufio.Writer) error {
	if d.err != nil {
		return d.err
	}
	return out.Flush()
}

// frameQuoteMax bounds the raw frame quoted in an error line.
const frameQuoteMax = 200

func (d *streamDecoder) frame(frame []byte) error {
	m := &d.m
	if err := watchproto.Decode(frame, m); err != nil {
		q := frame
		if len(q) > frameQuoteMax {
			q = q[:frameQuoteMax]
		}
		d.emit(&decodeRecord{Error: err.Error(), Frame: string(q)})
		return d.err
	}
	r := decodeRecord{
		Manufacturer:   m.Manufacturer,
		Device:         m.Device,
		Index:          m.Index,
		Type:           m.Type,
		Kind:           m.Kind.String(),
		LengthMismatch: !m.LengthOK,
	}
	has := m.Present.Has
	switch m.Kind {
	case watchproto.KindHeartbeat:
		if has(watchproto.FieldBattery) {
			r.Battery = ptr(m.Heartbeat.Battery)
		}
		if has(watchproto.FieldSteps) {
			r.Steps = ptr(m.Heartbeat.Steps)
		}
	case watchproto.KindLocation:
		locationRecord(&r, m)
	case watchproto.KindCellReport:
		r.Cells = cellsRecord(m.Location.Cells)
	case watchproto.KindHealth:
		h := m.Health
		if has(watchproto.FieldHeartRate) {
			r.HeartRate = ptr(h.HeartRate)
		}
		if has(watchproto.FieldBloodPressure) {
			r.Systolic, r.Diastolic = ptr(h.Systolic), ptr(h.Diastolic)
		}
		if has(watchproto.FieldSpO2) {
			r.SpO2 = ptr(h.SpO2)
		}
		if has(watchproto.FieldTemperature) {
			r.Temperature = ptr(h.Temperature)
		}
	case watchproto.KindAudio:
		r.AudioBytes = ptr(len(m.Payload))
	case watchproto.KindImage:
		r.ImageBytes = ptr(len(m.Payload))
		r.Time = rfc3339(m.ImageTime)
	case watchproto.KindICCID:
		r.ICCID = m.ICCID
	case watchproto.KindConfig:
		r.Config = make(map[string]string, len(m.Config))
		for _, kv := range m.Config {
			r.Config[kv.Key] = kv.Value
		}
	case watchproto.KindCommandReply:
		r.Keyword, r.Data = m.Keyword, m.Data
	case watchproto.KindInit, watchproto.KindWiFiInfo, watchproto.KindUnknown:
		r.Fields = m.Fields
	}
	r.BadEscape = m.BadEscape
	r.Reply = string(watchproto.AppendReply(nil, m))
	d.emit(&r)
	return d.err
}

func locationRecord(r *decodeRecord, m *watchproto.Message) {
	l := &m.Location
	has := m.Present.Has
	r.Time = rfc3339(l.Time)
	r.Valid = ptr(l.Valid)
	if l.HasCoords {
		r.Lat, r.Lon = ptr(l.Lat), ptr(l.Lon)
	}
	if has(watchproto.FieldSpeed) {
		r.Speed = ptr(l.Speed)
	}
	if has(watchproto.FieldCourse) {
		r.Course = ptr(l.Course)
	}
	if has(watchproto.FieldAltitude) {
		r.Altitude = ptr(l.Altitude)
	}
	if has(watchproto.FieldSatellites) {
		r.Satellites = ptr(l.Satellites)
	}
	if has(watchproto.FieldSignal) {
		r.Signal = ptr(l.Signal)
	}
	if has(watchproto.FieldBattery) {
		r.Battery = ptr(l.Battery)
	}
	if has(watchproto.FieldSteps) {
		r.Steps = ptr(l.Steps)
	}
	r.Status = l.Status
	r.Alarms = l.Alarms.Names()
	if l.Wear != watchproto.WearUnknown {
		r.Worn = ptr(l.Wear == watchproto.WearOn)
	}
	r.Cells = cellsRecord(l.Cells)
	for _, w := range l.WiFi {
		r.WiFi = append(r.WiFi, decodeWiFi{SSID: w.SSID, MAC: w.MAC, RSSI: w.RSSI})
	}
	if has(watchproto.FieldAccuracy) {
		r.Accuracy = ptr(l.Accuracy)
	}
}

func cellsRecord(cells []watchproto.Cell) []decodeCell {
	var out []decodeCell
	for _, c := range cells {
		dc := decodeCell{MCC: c.MCC, MNC: c.MNC, LAC: c.LAC, CID: c.CID}
		if c.HasRSSI {
			dc.RSSI = ptr(c.RSSI)
		}
		out = append(out, dc)
	}
	return out
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func ptr[T any](v T) *T { return &v }
