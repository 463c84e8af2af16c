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

// The AMR-NB frame type written: 12.2 kbit/s speech (what phones record), 31 bytes of speech bits
// after the header byte, 20 ms per frame. Comfort-noise (SID) and NO_DATA frames would be valid
// too, but ffmpeg's decoder rejects them, and a server transcoding with ffmpeg must play these.
const (
	amrMode122      = 7
	amrMode122Bytes = 31
)

// amrHeader is the frame header byte: frame type in bits 3–6, the "quality good" bit 2 set.
func amrHeader(frameType int) byte { return byte(frameType<<3 | 1<<2) }

// appendVoice appends an AMR-NB file of the given length. The speech bits are random, which any
// decoder accepts (it plays noise).
func appendVoice(dst []byte, r *rand.Rand, seconds int) []byte {
	dst = append(dst, amrMagic...)
	for range seconds * 50 {
		dst = appendRandom(append(dst, amrHeader(amrMode122)), r, amrMode122Bytes)
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
