package picture_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
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
