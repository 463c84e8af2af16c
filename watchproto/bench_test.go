package watchproto_test

import (
	"testing"

	"kinwatch/watchproto"
)

var benchFrames = map[string][]byte{
	"LK":            []byte("[3G*9705141740*0009*LK,0,0,53]"),
	"UD_cells_wifi": []byte("[3G*4700222306*011F*UD2,120316,140444,A,48.779045,N, 9.1574736,E,0.57,12.8,0.0,7,28,77,0,0,00000000,2,2,262,1,21041,9067,121,21041,5981,116,5,WG-Superlativ,34:31:c4:c8:a9:22,-67,EasyBox-28E858,18:83:bf:28:e8:f4,-70,MoMaXXg,be:05:43:b7:19:15,-72,MoMaXX2,bc:05:43:b7:19:15,-72,Gastzugang,18:83:bf:28:e8:f5,-72]"),
	"AL_LTE":        []byte("[3G*6907919734*003e*AL_LTE,170525,214118,V,0,N,0,E,0,0,0,0,0,22,0,0,00010000,0,0,0]"),
}

// BenchmarkDecode decodes into one reused Message, as the gateway does per connection.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"LK", "UD_cells_wifi", "AL_LTE"} {
		frame := benchFrames[name]
		b.Run(name, func(b *testing.B) {
			var m watchproto.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := watchproto.Decode(frame, &m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
	// The mix the target is stated for: one LK per location report.
	b.Run("mix_LK_UD", func(b *testing.B) {
		frames := [][]byte{benchFrames["LK"], benchFrames["UD_cells_wifi"]}
		var m watchproto.Message
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := watchproto.Decode(frames[i&1], &m); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	})
}

// BenchmarkFramer feeds a stream of back-to-back frames in 512-byte reads, like the gateway.
func BenchmarkFramer(b *testing.B) {
	var stream []byte
	for range 50 {
		for _, f := range benchFrames {
			stream = append(stream, f...)
		}
	}
	frames := 0
	fr := watchproto.NewFramer(0)
	count := func([]byte) error { frames++; return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		for p := stream; len(p) > 0; {
			n := min(512, len(p))
			if err := fr.Feed(p[:n], count); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
	b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkAppendReply(b *testing.B) {
	var m watchproto.Message
	if err := watchproto.Decode(benchFrames["LK"], &m); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = watchproto.AppendReply(buf[:0], &m)
	}
}
