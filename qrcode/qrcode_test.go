package qrcode

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"kinwatch"

	qr "github.com/skip2/go-qrcode"
)

func TestPNG(t *testing.T) {
	b, err := PNG("8800000001", 256)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 256 || r.Dy() != 256 {
		t.Errorf("size %v, want 256×256", r)
	}
	// The corner is quiet zone (white), the finder pattern starts dark a few modules in.
	if r, g, bl, _ := img.At(0, 0).RGBA(); r != 0xffff || g != 0xffff || bl != 0xffff {
		t.Errorf("corner pixel is not white")
	}
}

// TestSVGMatchesBitmap redraws the SVG's runs and compares them with the encoder's bitmap, so a
// wrong offset, run length or row shows.
func TestSVGMatchesBitmap(t *testing.T) {
	const content = "https://kinwatch.example/join#ABCDEF"
	b, err := SVG(content, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	q, _ := qr.New(content, level)
	q.DisableBorder = true
	want := q.Bitmap()
	n := len(want) + 8
	if !strings.Contains(string(b), `viewBox="0 0 `+strconv.Itoa(n)+` `+strconv.Itoa(n)+`"`) {
		t.Fatalf("viewBox is not %d modules: %s", n, b[:200])
	}
	got := make([][]bool, len(want))
	for i := range got {
		got[i] = make([]bool, len(want))
	}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(string(b), -1)
	if len(runs) == 0 {
		t.Fatal("no modules drawn")
	}
	for _, r := range runs {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		for i := range w {
			got[y-4][x-4+i] = true
		}
	}
	for y := range want {
		for x := range want[y] {
			if got[y][x] != want[y][x] {
				t.Fatalf("module (%d,%d) is %v, want %v", x, y, got[y][x], want[y][x])
			}
		}
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"empty", func() error { _, err := PNG("", 256); return err }()},
		{"too long", func() error { _, err := SVG(strings.Repeat("x", MaxContent+1), 8); return err }()},
		{"tiny png", func() error { _, err := PNG("1", 8); return err }()},
		{"huge png", func() error { _, err := PNG("1", 5000); return err }()},
		{"module 0", func() error { _, err := SVG("1", 0); return err }()},
	} {
		if kinwatch.ErrorCode(tc.err) != kinwatch.EINVALID {
			t.Errorf("%s: %v, want an invalid error", tc.name, tc.err)
		}
	}
}
