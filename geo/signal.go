package geo

import "math"

// What the watches report as signal strength, from the captured frames in shared/protocol and
// watchproto/testdata (2016–2025 firmwares, 3G, SG and ZJ):
//
//   - Wi-Fi: always negative dBm (-46 … -104). A positive value has only ever been a lost sign, so
//     1…127 is read as -value dBm and 128…255 as a signed byte (value-256); 0 or an empty field
//     means unknown.
//   - Cells: always a positive number and never dBm. Some firmwares repeat the 0–100 % GSM signal
//     of the location block (cell "100" beside signal 100, "75" beside 75, "28" beside 28); others
//     send 116–167 (SG, older 3G) or 5–42 (ZJ), unit undocumented. Lists with several cells come
//     strongest first and descend (141,141,140,134,…; 139,139,132,127,…), so larger means stronger
//     in every scale seen. 0 or an empty field means unknown. A negative value would be dBm and is
//     taken as such.
//
// So cell values are only comparable within one report. CellSignal maps 1…255 linearly onto the
// GSM range -113…-51 dBm, which keeps their order for weighting and nothing more; they are never
// sent to a remote service as dBm.

// WiFiSignal returns an access point's signal in dBm from what the watch reported, and false when
// it is unknown.
func WiFiSignal(raw int) (dBm int, ok bool) {
	switch {
	case raw < 0 && raw >= -127:
		return raw, true
	case raw > 0 && raw <= 127:
		return -raw, true
	case raw >= 128 && raw <= 255:
		return raw - 256, true
	}
	return 0, false
}

// CellSignal returns a cell's signal on a dBm-like scale for weighting cells of one report against
// each other, whether it is true dBm (the watch sent a negative value), and false when unknown.
func CellSignal(raw int) (dBm int, trueDBm bool, ok bool) {
	switch {
	case raw < 0 && raw >= -150:
		return raw, true, true
	case raw > 0 && raw <= 255:
		return -113 + (raw*62+127)/255, false, true
	}
	return 0, false, false
}

// Weight bounds and the weight of an observation whose signal is unknown.
const (
	strongestSignal = -30 // dBm: closer than this says nothing more
	weakestSignal   = -110
	unknownSignal   = -90 // a typical indoor reading: neither trusted nor ignored
)

// weight turns a signal (dBm, 0 or positive = unknown) into an estimation weight.
//
// Under free-space path loss, received power falls 20 dB per decade of distance, so
// 10^((s+100)/20) is proportional to 1/distance: an access point heard 20 dB stronger is about ten
// times nearer and counts ten times more. 1/distance rather than 1/distance² keeps a single strong
// reading from drowning the others, which matters because indoor walls make signals lie by 10 dB
// and more.
func weight(signal int) float64 {
	if signal >= 0 {
		signal = unknownSignal
	}
	signal = max(weakestSignal, min(strongestSignal, signal))
	return weights[signal-weakestSignal]
}

// weights holds weight for every whole dBm between the bounds, sparing Estimate a math.Pow each.
var weights = func() (w [strongestSignal - weakestSignal + 1]float64) {
	for i := range w {
		w[i] = math.Pow(10, float64(weakestSignal+i+100)/20)
	}
	return w
}()
