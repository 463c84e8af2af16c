package picture_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/picture"
)

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{200, 10, 10, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheck(t *testing.T) {
	pngData := encodePNG(t, 64, 48)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, 32, 32)), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		declared string
		want     string // content type, or part of the error
	}{
		{"png", pngData, "image/png", "image/png"},
		{"jpeg", jb.Bytes(), "image/jpeg", "image/jpeg"},
		{"png with a parameter", pngData, "image/png; charset=binary", "image/png"},
		{"empty", nil, "image/png", "the body must be the picture"},
		{"declared as jpeg", pngData, "image/jpeg", "not a image/jpeg"},
		{"html declared as png", []byte("<html><script>alert(1)</script></html>"), "image/png", "not a image/png"},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image/gif", "image/png or image/jpeg"},
		{"no type", pngData, "", "image/png or image/jpeg"},
		{"truncated png", pngData[:20], "image/png", "cannot be read"},
		{"too small", encodePNG(t, 8, 8), "image/png", "8×8 pixels"},
		{"too wide", encodePNG(t, 5000, 16), "image/png", "5000×16 pixels"},
		{"too large", append(append([]byte(nil), pngData...), make([]byte, picture.MaxBytes)...), "image/png", "larger than"},
	} {
		got, err := picture.Check(tc.data, tc.declared)
		switch {
		case err == nil && got != tc.want:
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		case err != nil && (kinwatch.ErrorCode(err) != kinwatch.EINVALID || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an invalid error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// withEXIF inserts an APP1 EXIF segment and a comment carrying a "GPS position" right after the
// JPEG's start-of-image marker, as phones do.
func withEXIF(t *testing.T, jpg []byte) []byte {
	t.Helper()
	seg := func(marker byte, payload string) []byte {
		n := len(payload) + 2
		return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
	}
	out := append([]byte(nil), jpg[:2]...)
	out = append(out, seg(0xE1, "Exif\x00\x00GPSLatitude=52.520008;GPSLongitude=13.404954")...)
	out = append(out, seg(0xFE, "taken at Hauptstrasse 5")...)
	return append(out, jpg[2:]...)
}

// withText inserts PNG tEXt and tIME chunks after IHDR.
func withText(t *testing.T, pngData []byte) []byte {
	t.Helper()
	chunk := func(typ, data string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		b = append(b, typ...)
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE([]byte(typ+data)))
	}
	ihdrEnd := 8 + 12 + 13
	out := append([]byte(nil), pngData[:ihdrEnd]...)
	out = append(out, chunk("tEXt", "Location\x0052.520008,13.404954")...)
	out = append(out, chunk("tIME", "\x07\xea\x0b\x1d\x08\x00\x00")...)
	return append(out, pngData[ihdrEnd:]...)
}

// TestClean: what cameras write about where and when is gone; the picture is the same picture.
func TestClean(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for x := range 40 {
		src.Set(x, x%30, color.RGBA{uint8(6 * x), 90, 200, 255})
	}
	var jb, pb bytes.Buffer
	if err := jpeg.Encode(&jb, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&pb, src); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ct     string
		plain  []byte
		tagged []byte
		decode func(io.Reader) (image.Image, error)
	}{
		{"image/jpeg", jb.Bytes(), withEXIF(t, jb.Bytes()), jpeg.Decode},
		{"image/png", pb.Bytes(), withText(t, pb.Bytes()), png.Decode},
	} {
		if _, err := picture.Check(tc.tagged, tc.ct); err != nil {
			t.Fatalf("%s with metadata: %v", tc.ct, err)
		}
		got, err := picture.Clean(tc.tagged, tc.ct)
		if err != nil {
			t.Fatalf("Clean(%s): %v", tc.ct, err)
		}
		for _, secret := range []string{"52.520008", "Hauptstrasse", "Location"} {
			if bytes.Contains(got, []byte(secret)) {
				t.Errorf("%s: %q is still in the cleaned picture", tc.ct, secret)
			}
		}
		if !bytes.Equal(got, tc.plain) {
			t.Errorf("%s: cleaned picture differs from the original without metadata (%d vs %d bytes)", tc.ct, len(got), len(tc.plain))
		}
		if _, err := tc.decode(bytes.NewReader(got)); err != nil {
			t.Errorf("%s: the cleaned picture does not decode: %v", tc.ct, err)
		}
		// A PNG cut short is refused, never half-copied (a JPEG is copied as it is from its scan on).
		if _, err := picture.Clean(tc.tagged[:len(tc.tagged)/3], tc.ct); err == nil && tc.ct == "image/png" {
			t.Errorf("%s: a truncated file was cleaned", tc.ct)
		}
	}
}
