// Package picture checks pictures that people upload (a guardian's avatar, a child's photo for
// the profile) before they are stored: a PNG or JPEG image of sensible dimensions whose content
// is what its declared type says. Anything else is refused with a reason, so a file that only
// claims to be a picture is never stored or served back. Clean then removes the metadata that
// cameras and phones put in picture files (EXIF with the GPS position and time, XMP, comments),
// which would otherwise travel to everyone who may see the picture.
package picture

import (
	"bytes"
	"encoding/binary"
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

// Prepare is what an upload goes through before it is stored: Check, then Clean.
func Prepare(data []byte, declared string) ([]byte, error) {
	ct, err := Check(data, declared)
	if err != nil {
		return nil, err
	}
	return Clean(data, ct)
}

// Type is the content type of a stored picture, read from its first bytes.
func Type(data []byte) string {
	return http.DetectContentType(data)
}

// Clean returns the picture without its metadata, the pixels untouched (nothing is decoded):
// JPEG APP1 (EXIF, XMP), APP3–APP13, APP15 and comment segments, and PNG text, time and EXIF
// chunks. The JFIF/Adobe segments and colour profiles stay, as they change how it looks. data
// must have passed Check.
func Clean(data []byte, contentType string) ([]byte, error) {
	switch contentType {
	case "image/jpeg":
		return cleanJPEG(data)
	case "image/png":
		return cleanPNG(data)
	}
	return nil, kinwatch.Errorf(kinwatch.EINVALID, "not a picture type kinwatch keeps: %s", contentType)
}

var errDamaged = kinwatch.Errorf(kinwatch.EINVALID, "the picture's file structure is damaged")

func cleanJPEG(data []byte) ([]byte, error) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, errDamaged
	}
	out := make([]byte, 0, len(data))
	out = append(out, 0xFF, 0xD8)
	i := 2
	for {
		// Markers may be preceded by any number of 0xFF fill bytes.
		for i < len(data) && data[i] == 0xFF && i+1 < len(data) && data[i+1] == 0xFF {
			i++
		}
		if i+1 >= len(data) || data[i] != 0xFF {
			return nil, errDamaged
		}
		marker := data[i+1]
		switch {
		case marker == 0xD9: // end of image without a scan
			return append(out, data[i:]...), nil
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD7: // no length
			out = append(out, data[i:i+2]...)
			i += 2
			continue
		}
		if i+4 > len(data) {
			return nil, errDamaged
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		end := i + 2 + n
		if n < 2 || end > len(data) {
			return nil, errDamaged
		}
		if marker == 0xDA { // start of scan: the compressed image follows; keep the rest as it is
			return append(out, data[i:]...), nil
		}
		drop := marker == 0xE1 || marker >= 0xE3 && marker <= 0xED || marker == 0xEF || marker == 0xFE
		if !drop {
			out = append(out, data[i:end]...)
		}
		i = end
	}
}

// pngMetadata are the chunk types Clean removes.
var pngMetadata = map[string]bool{"tEXt": true, "iTXt": true, "zTXt": true, "eXIf": true, "tIME": true}

func cleanPNG(data []byte) ([]byte, error) {
	const signature = "\x89PNG\r\n\x1a\n"
	if len(data) < len(signature) || string(data[:len(signature)]) != signature {
		return nil, errDamaged
	}
	out := make([]byte, 0, len(data))
	out = append(out, data[:len(signature)]...)
	for i := len(signature); ; {
		if i+12 > len(data) {
			return nil, errDamaged
		}
		n := int(binary.BigEndian.Uint32(data[i:]))
		end := i + 12 + n
		if n < 0 || n > len(data) || end > len(data) {
			return nil, errDamaged
		}
		typ := string(data[i+4 : i+8])
		if !pngMetadata[typ] {
			out = append(out, data[i:end]...)
		}
		if typ == "IEND" {
			return out, nil
		}
		i = end
	}
}
