package watchproto

import (
	"bytes"
	"errors"
)

// DefaultMaxFrame bounds a frame when NewFramer is given no limit: large enough for a photo or a
// 15-second voice message, small enough that a misbehaving peer cannot pin much memory.
const DefaultMaxFrame = 256 << 10

// ErrFrameTooLarge reports a frame longer than the Framer's limit.
var ErrFrameTooLarge = errors.New("watchproto: frame exceeds the maximum size")

// ErrEncrypted reports the AQSH signature of firmwares that encrypt their traffic.
var ErrEncrypted = errors.New("watchproto: the watch's firmware encrypts its traffic (AQSH framing); ask the vendor to unlock/FOTA it for a private server")

// aqsh is the signature of encrypted firmwares (on the wire it follows a 0xFF, which is not required).
const aqsh = "AQSH"

// Framer cuts a byte stream into frames. Frames are delimited by bracket depth, not by the LEN field,
// which real firmwares get wrong, and not by the first ']', because Wi-Fi SSIDs may contain brackets.
// It holds at most one partial frame. The zero value is not usable; call NewFramer.
type Framer struct {
	max     int
	buf     []byte // the pending partial frame, starting with '['
	depth   int    // bracket depth at the end of buf
	sig     int    // bytes of the AQSH signature matched so far outside frames
	skipped int64
	err     error
}

// NewFramer returns a Framer that rejects frames longer than max bytes; max <= 0 means DefaultMaxFrame.
func NewFramer(max int) *Framer {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Framer{max: max}
}

// Feed consumes p and calls fn for every complete frame (from '[' to the matching ']', still escaped).
// The frame slice aliases p when the frame lies wholly inside p, else the Framer's own buffer; it is
// valid only during fn. A frame split across calls is assembled in the Framer's buffer, which never
// grows beyond the limit. Bytes outside frames are skipped and counted.
//
// Feed returns ErrFrameTooLarge when a frame exceeds the limit, ErrEncrypted when it sees the AQSH
// signature outside a frame, or fn's error. The Framer then returns that error from every Feed until
// Reset; the rest of p is not consumed.
func (f *Framer) Feed(p []byte, fn func(frame []byte) error) error {
	if f.err != nil {
		return f.err
	}
	if len(f.buf) > 0 {
		end, depth := closing(p, f.depth)
		if end < 0 {
			if len(f.buf)+len(p) > f.max {
				return f.fail(ErrFrameTooLarge)
			}
			f.grow(len(p))
			f.buf = append(f.buf, p...)
			f.depth = depth
			return nil
		}
		if len(f.buf)+end+1 > f.max {
			return f.fail(ErrFrameTooLarge)
		}
		f.grow(end + 1)
		f.buf = append(f.buf, p[:end+1]...)
		err := fn(f.buf)
		f.buf, f.depth = f.buf[:0], 0
		if err != nil {
			return f.fail(err)
		}
		p = p[end+1:]
	}
	for len(p) > 0 {
		start := bytes.IndexByte(p, '[')
		if start != 0 {
			noise := p
			if start > 0 {
				noise = p[:start]
			}
			f.skipped += int64(len(noise))
			if f.scanSignature(noise) {
				return f.fail(ErrEncrypted)
			}
			if start < 0 {
				return nil
			}
			p = p[start:]
		}
		f.sig = 0
		end, depth := closing(p[1:], 1)
		if end < 0 {
			if len(p) > f.max {
				return f.fail(ErrFrameTooLarge)
			}
			f.grow(len(p))
			f.buf = append(f.buf, p...)
			f.depth = depth
			return nil
		}
		end++ // index in p
		if end+1 > f.max {
			return f.fail(ErrFrameTooLarge)
		}
		if err := fn(p[:end+1]); err != nil {
			return f.fail(err)
		}
		p = p[end+1:]
	}
	return nil
}

// closing returns the index in p of the ']' that brings depth (the depth before p) back to 0, or -1
// and the depth at the end of p. It scans with IndexByte and Count rather than byte by byte because
// frames are mostly bracket-free text.
func closing(p []byte, depth int) (int, int) {
	i := 0
	for {
		j := bytes.IndexByte(p[i:], ']')
		if j < 0 {
			return -1, depth + bytes.Count(p[i:], []byte{'['})
		}
		depth += bytes.Count(p[i:i+j], []byte{'['}) - 1
		if depth <= 0 {
			return i + j, 0
		}
		i += j + 1
	}
}

// scanSignature advances the AQSH matcher over noise bytes and reports whether it completed.
func (f *Framer) scanSignature(noise []byte) bool {
	for _, b := range noise {
		switch {
		case b == aqsh[f.sig]:
			f.sig++
			if f.sig == len(aqsh) {
				return true
			}
		case b == aqsh[0]:
			f.sig = 1
		default:
			f.sig = 0
		}
	}
	return false
}

// grow makes room for n more bytes in buf without letting its capacity pass the limit.
func (f *Framer) grow(n int) {
	need := len(f.buf) + n
	if need <= cap(f.buf) {
		return
	}
	c := 2 * cap(f.buf)
	if c < 512 {
		c = 512
	}
	if c < need {
		c = need
	}
	if c > f.max {
		c = f.max
	}
	nb := make([]byte, len(f.buf), c)
	copy(nb, f.buf)
	f.buf = nb
}

func (f *Framer) fail(err error) error {
	f.err = err
	return err
}

// Buffered returns the length of the pending partial frame.
func (f *Framer) Buffered() int { return len(f.buf) }

// Skipped returns how many bytes outside frames have been skipped so far.
func (f *Framer) Skipped() int64 { return f.skipped }

// Reset drops the pending partial frame and any error, so the Framer can resynchronise on the next
// '['. A buffer grown for a large frame is released rather than kept for the life of the connection.
func (f *Framer) Reset() {
	if cap(f.buf) > 4<<10 {
		f.buf = nil
	}
	f.buf, f.depth, f.sig, f.err = f.buf[:0], 0, 0, nil
}
