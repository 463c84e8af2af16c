package watchproto_test

import (
	"bytes"
	"errors"
	"testing"

	"kinwatch/watchproto"
)

// seeds are every captured frame and stream plus the reference frames.
func seeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, l := range readTSV(tb) {
		out = append(out, l.input)
	}
	return append(out, referenceFrames()...)
}

// usedFrame fills every slice of a Message before the fuzzed frame is decoded into it.
var usedFrame = []byte("[3G*1*0000*UD,010120,025946,A,1.5,N,2.5,E,22.0,0,-1,0,100,98,0,0,00010000,1,255,460,0,1,2,3,1,x,aa:bb,-5,7.5]")

func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var m watchproto.Message
		if err := watchproto.Decode(frame, &m); err != nil {
			if !errors.Is(err, watchproto.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		// Whatever decodes must be answerable and re-encodable without panicking, and come back the same.
		watchproto.AppendReply(nil, &m)
		watchproto.AppendLocationReply(nil, &m, watchproto.GeoAnswer{Found: true, Lat: 1, Lon: 2, Address: "x"})
		if diff := roundTrip(&m); diff != "" {
			t.Fatalf("%q: %s", frame, diff)
		}
		// Decoding into a used Message gives the same result as into a fresh one.
		var used watchproto.Message
		watchproto.Decode(usedFrame, &used)
		watchproto.Decode(frame, &used)
		var fresh watchproto.Message
		watchproto.Decode(frame, &fresh)
		if a, b := dataOf(&used), dataOf(&fresh); !equalData(a, b) {
			t.Fatalf("%q: reused message differs from a fresh one", frame)
		}
	})
}

func FuzzFrame(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, uint8(7), uint16(0))
	}
	f.Add([]byte("\xffAQSH\x00"), uint8(1), uint16(0))
	f.Add([]byte("[[[[[[[[[[[[[[[[[[[[[[[["), uint8(3), uint16(16))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8, max uint16) {
		limit := int(max)
		if limit <= 0 {
			limit = watchproto.DefaultMaxFrame
		}
		collect := func(step int) ([][]byte, error) {
			fr := watchproto.NewFramer(int(max))
			var frames [][]byte
			var err error
			for p := stream; len(p) > 0 && err == nil; {
				n := min(step, len(p))
				err = fr.Feed(p[:n], func(frame []byte) error {
					if len(frame) > limit || frame[0] != '[' || frame[len(frame)-1] != ']' {
						t.Fatalf("bad frame %q (limit %d)", frame, limit)
					}
					frames = append(frames, bytes.Clone(frame))
					return nil
				})
				if fr.Buffered() > limit {
					t.Fatalf("buffered %d > limit %d", fr.Buffered(), limit)
				}
				p = p[n:]
			}
			return frames, err
		}
		whole, errWhole := collect(len(stream) + 1)
		pieces, errPieces := collect(int(chunk%64) + 1)
		if !errors.Is(errPieces, errWhole) && !errors.Is(errWhole, errPieces) {
			t.Fatalf("errors differ: whole %v, pieces %v", errWhole, errPieces)
		}
		if errWhole == nil && !equalFrames(whole, pieces) {
			t.Fatalf("framing depends on chunking:\n%q\n%q", whole, pieces)
		}
		for _, fr := range whole {
			var m watchproto.Message
			watchproto.Decode(fr, &m)
		}
	})
}
