package watchproto_test

import (
	"bytes"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"kinwatch/watchproto"
)

// feedAll feeds in to f in chunks of at most chunk bytes and returns copies of the frames.
func feedAll(tb testing.TB, f *watchproto.Framer, in []byte, chunk int) [][]byte {
	tb.Helper()
	var frames [][]byte
	for len(in) > 0 {
		n := min(chunk, len(in))
		err := f.Feed(in[:n], func(frame []byte) error {
			frames = append(frames, bytes.Clone(frame))
			return nil
		})
		if err != nil {
			tb.Fatalf("Feed: %v", err)
		}
		in = in[n:]
	}
	return frames
}

// feedRandom feeds in in random-sized chunks drawn from a seeded source.
func feedRandom(tb testing.TB, f *watchproto.Framer, in []byte, seed int64) [][]byte {
	tb.Helper()
	r := rand.New(rand.NewSource(seed))
	var frames [][]byte
	for len(in) > 0 {
		n := min(1+r.Intn(40), len(in))
		if err := f.Feed(in[:n], func(frame []byte) error {
			frames = append(frames, bytes.Clone(frame))
			return nil
		}); err != nil {
			tb.Fatalf("Feed: %v", err)
		}
		in = in[n:]
	}
	return frames
}

// TestFramerChunking: every FrameDecoderTest stream, and all of them concatenated with noise, must
// frame identically whole, one byte at a time and in random chunks.
func TestFramerChunking(t *testing.T) {
	var streams [][]byte
	var all []byte
	for _, l := range readTSV(t) {
		if l.source == "FrameDecoderTest" {
			streams = append(streams, l.input)
			all = append(append(all, l.input...), "\r\n"...)
		}
	}
	streams = append(streams, all)
	for i, s := range streams {
		whole := feedAll(t, watchproto.NewFramer(0), s, len(s))
		if len(whole) == 0 {
			t.Fatalf("stream %d: no frames", i)
		}
		for _, f := range whole {
			if f[0] != '[' || f[len(f)-1] != ']' {
				t.Errorf("stream %d: frame %q not bracketed", i, f)
			}
		}
		bytewise := feedAll(t, watchproto.NewFramer(0), s, 1)
		if !equalFrames(whole, bytewise) {
			t.Errorf("stream %d: byte-at-a-time framing differs:\n%q\n%q", i, whole, bytewise)
		}
		for seed := int64(1); seed <= 20; seed++ {
			if got := feedRandom(t, watchproto.NewFramer(0), s, seed); !equalFrames(whole, got) {
				t.Errorf("stream %d seed %d: random chunking differs", i, seed)
			}
		}
	}
}

func equalFrames(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestFramerNoiseAndNesting(t *testing.T) {
	in := "\r\n  junk[3G*1*0002*LK]\r\n[3G*1*0010*UD,x,[a]b,[[c]]]noise]]][SG*2*0003*TKQ]tail"
	f := watchproto.NewFramer(0)
	frames := feedAll(t, f, []byte(in), len(in))
	want := []string{"[3G*1*0002*LK]", "[3G*1*0010*UD,x,[a]b,[[c]]]", "[SG*2*0003*TKQ]"}
	if len(frames) != len(want) {
		t.Fatalf("frames %q, want %q", frames, want)
	}
	for i := range want {
		if string(frames[i]) != want[i] {
			t.Errorf("frame %d %q, want %q", i, frames[i], want[i])
		}
	}
	// "\r\n  junk" + "\r\n" + "noise]]]" + "tail"
	if got := f.Skipped(); got != int64(len("\r\n  junk")+len("\r\n")+len("noise]]]")+len("tail")) {
		t.Errorf("skipped %d", got)
	}
	if f.Buffered() != 0 {
		t.Errorf("buffered %d after complete frames", f.Buffered())
	}
}

func TestFramerPartialAndAliasing(t *testing.T) {
	f := watchproto.NewFramer(0)
	in := []byte("[3G*1*0002*LK][3G*1*0009*LK,0,0,5")
	var got [][]byte
	err := f.Feed(in, func(frame []byte) error {
		if &frame[0] != &in[0] {
			t.Errorf("a frame wholly inside p should alias p")
		}
		got = append(got, bytes.Clone(frame))
		return nil
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("got %q, %v", got, err)
	}
	if f.Buffered() != len("[3G*1*0009*LK,0,0,5") {
		t.Errorf("buffered %d", f.Buffered())
	}
	err = f.Feed([]byte("3]"), func(frame []byte) error {
		got = append(got, bytes.Clone(frame))
		return nil
	})
	if err != nil || len(got) != 2 || string(got[1]) != "[3G*1*0009*LK,0,0,53]" {
		t.Fatalf("got %q, %v", got, err)
	}
	f.Feed([]byte("[3G*1*00"), nil)
	f.Reset()
	if f.Buffered() != 0 {
		t.Errorf("Reset kept %d bytes", f.Buffered())
	}
}

func TestFramerMaxSize(t *testing.T) {
	const max = 64
	ok := "[3G*1*0002*" + strings.Repeat("x", max-len("[3G*1*0002*]")) + "]"
	if len(ok) != max {
		t.Fatal("test frame has the wrong size")
	}
	for _, chunk := range []int{1, 7, 1000} {
		f := watchproto.NewFramer(max)
		if frames := feedAll(t, f, []byte(ok), chunk); len(frames) != 1 {
			t.Fatalf("chunk %d: a frame of exactly max bytes should pass, got %d frames", chunk, len(frames))
		}
		big := []byte("[3G*1*0002*" + strings.Repeat("y", max) + "]")
		var err error
		for p := big; len(p) > 0 && err == nil; {
			n := min(chunk, len(p))
			err = f.Feed(p[:n], func([]byte) error { t.Error("oversized frame delivered"); return nil })
			if f.Buffered() > max {
				t.Fatalf("buffered %d > max %d", f.Buffered(), max)
			}
			p = p[n:]
		}
		if !errors.Is(err, watchproto.ErrFrameTooLarge) {
			t.Fatalf("chunk %d: err %v, want ErrFrameTooLarge", chunk, err)
		}
		if err := f.Feed([]byte(ok), func([]byte) error { return nil }); !errors.Is(err, watchproto.ErrFrameTooLarge) {
			t.Errorf("the framer should stay failed until Reset, got %v", err)
		}
		f.Reset()
		if frames := feedAll(t, f, []byte(ok), chunk); len(frames) != 1 {
			t.Errorf("after Reset: %d frames", len(frames))
		}
	}
	// An unterminated frame fails as soon as it passes the limit, not when it ends.
	f := watchproto.NewFramer(max)
	err := f.Feed([]byte("["+strings.Repeat("[", max)), func([]byte) error { return nil })
	if !errors.Is(err, watchproto.ErrFrameTooLarge) {
		t.Errorf("unterminated: %v", err)
	}
}

func TestFramerEncrypted(t *testing.T) {
	for name, in := range map[string][]byte{
		"with 0xFF":         append([]byte{0xFF}, "AQSH\x00\x10\x5b\x01binary"...),
		"without 0xFF":      []byte("AQSH+\x00\x01"),
		"after a frame":     []byte("[3G*1*0002*LK]\xffAQSH\x00"),
		"after noise":       []byte("\r\nAQAQSH"),
		"split across feed": []byte("\xffAQSH"),
	} {
		t.Run(name, func(t *testing.T) {
			f := watchproto.NewFramer(0)
			var err error
			for i := 0; i < len(in) && err == nil; i++ {
				err = f.Feed(in[i:i+1], func([]byte) error { return nil })
			}
			if !errors.Is(err, watchproto.ErrEncrypted) {
				t.Errorf("err %v, want ErrEncrypted", err)
			}
		})
	}
	// The letters inside a frame are data, not a signature.
	f := watchproto.NewFramer(0)
	if err := f.Feed([]byte("[3G*1*0006*AQSH,1]"), func([]byte) error { return nil }); err != nil {
		t.Errorf("AQSH inside a frame: %v", err)
	}
}

func TestFramerCallbackError(t *testing.T) {
	boom := errors.New("boom")
	f := watchproto.NewFramer(0)
	n := 0
	err := f.Feed([]byte("[3G*1*0002*LK][3G*1*0002*LK]"), func([]byte) error { n++; return boom })
	if err != boom || n != 1 {
		t.Errorf("err %v after %d frames", err, n)
	}
	if err := f.Feed([]byte("[3G*1*0002*LK]"), func([]byte) error { return nil }); err != boom {
		t.Errorf("the framer should stay failed, got %v", err)
	}
}
