package sim

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
)

// amrMagic starts every single-channel AMR-NB file (RFC 4867, section 5).
const amrMagic = "#!AMR\n"

// AMR-NB frame types used here, with their speech bytes after the header byte: 12.2 kbit/s speech,
// comfort noise (SID) and NO_DATA. Each frame is 20 ms.
const (
	amrMode122, amrMode122Bytes = 7, 31
	amrSID, amrSIDBytes         = 8, 5
	amrNoData                   = 15
)

// amrHeader is the frame header byte: frame type in bits 3–6, the "quality good" bit 2 set.
func amrHeader(frameType int) byte { return byte(frameType<<3 | 1<<2) }

// appendVoice appends an AMR-NB file of the given length: talk spurts of 12.2 kbit/s frames and
// pauses of one comfort-noise frame followed by NO_DATA frames, the way a watch's encoder with
// voice activity detection writes them. The speech bits are random, which any decoder accepts.
func appendVoice(dst []byte, r *rand.Rand, seconds int) []byte {
	dst = append(dst, amrMagic...)
	frames := seconds * 50
	for i := 0; i < frames; {
		for talk := 10 + r.IntN(60); talk > 0 && i < frames; talk, i = talk-1, i+1 {
			dst = appendRandom(append(dst, amrHeader(amrMode122)), r, amrMode122Bytes)
		}
		for k, pause := 0, r.IntN(20); k < pause && i < frames; k, i = k+1, i+1 {
			if k == 0 {
				dst = appendRandom(append(dst, amrHeader(amrSID)), r, amrSIDBytes)
			} else {
				dst = append(dst, amrHeader(amrNoData))
			}
		}
	}
	return dst
}

func appendRandom(dst []byte, r *rand.Rand, n int) []byte {
	for ; n > 0; n -= 8 {
		x := r.Uint64()
		for j := 0; j < 8 && j < n; j++ {
			dst = append(dst, byte(x>>(8*j)))
		}
	}
	return dst
}

// appendPhoto appends a small JPEG (160×120) of a simple outdoor scene tinted by the watch's
// random stream, as a watch camera would send after rcapture. Its compressed size is a few KB,
// like the low-resolution snapshots real watches upload.
func appendPhoto(dst []byte, r *rand.Rand) []byte {
	const w, h = 160, 120
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	sky := color.RGBA{uint8(90 + r.IntN(60)), uint8(140 + r.IntN(60)), uint8(200 + r.IntN(55)), 255}
	ground := color.RGBA{uint8(40 + r.IntN(60)), uint8(110 + r.IntN(60)), uint8(30 + r.IntN(40)), 255}
	horizon := h/2 + r.IntN(h/4)
	sunX, sunY, sunR := 20+r.IntN(w-40), 10+r.IntN(horizon/2), 8+r.IntN(8)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := sky
			if y >= horizon {
				c = ground
			}
			if dx, dy := x-sunX, y-sunY; dx*dx+dy*dy < sunR*sunR {
				c = color.RGBA{250, 220, 90, 255}
			}
			// Shade and a little sensor noise keep the encoder from producing an unrealistically
			// tiny file.
			shade := (y * 40 / h) + r.IntN(12)
			cy, cb, cr := color.RGBToYCbCr(sat(int(c.R)-shade), sat(int(c.G)-shade), sat(int(c.B)-shade))
			img.Y[img.YOffset(x, y)] = cy
			img.Cb[img.COffset(x, y)] = cb
			img.Cr[img.COffset(x, y)] = cr
		}
	}
	buf := bytes.NewBuffer(dst)
	// Encoding into a bytes.Buffer cannot fail.
	_ = jpeg.Encode(buf, img, &jpeg.Options{Quality: 70})
	return buf.Bytes()
}

func sat(v int) uint8 {
	return uint8(max(0, min(255, v)))
}
