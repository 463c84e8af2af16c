// Package picture checks pictures that people upload (a guardian's avatar, a child's photo for
// the profile) before they are stored: a PNG or JPEG image of sensible dimensions whose content
// is what its declared type says. Anything else is refused with a reason, so a file that only
// claims to be a picture is never stored or served back.
package picture

import (
	"bytes"
	"image"
	_ "image/jpeg" // registers JPEG with image.DecodeConfig
	_ "image/png"  // registers PNG
	"mime"
	"net/http"

	"kinwatch"
)

// Limits of an uploaded picture.
const (
	MaxBytes     = 1 << 20 // 1 MiB: a profile picture, not a photo album
	MinDimension = 16
	MaxDimension = 4096
)

// Types are the accepted content types.
var Types = []string{"image/png", "image/jpeg"}

// Check validates data uploaded as declared (a Content-Type header) and returns its content type.
func Check(data []byte, declared string) (string, error) {
	if len(data) == 0 {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "the body must be the picture: a PNG or JPEG image")
	}
	if len(data) > MaxBytes {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "the picture is larger than %d bytes", MaxBytes)
	}
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil || mt != "image/png" && mt != "image/jpeg" {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "send the picture with Content-Type image/png or image/jpeg")
	}
	if sniffed := Type(data); sniffed != mt {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "the body is not a %s image", mt)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "the picture cannot be read as %s", mt)
	}
	if cfg.Width < MinDimension || cfg.Height < MinDimension || cfg.Width > MaxDimension || cfg.Height > MaxDimension {
		return "", kinwatch.Errorf(kinwatch.EINVALID, "the picture is %d×%d pixels: each side must be %d to %d",
			cfg.Width, cfg.Height, MinDimension, MaxDimension)
	}
	return mt, nil
}

// Type is the content type of a stored picture, read from its first bytes.
func Type(data []byte) string {
	return http.DetectContentType(data)
}
