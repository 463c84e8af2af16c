// Package qrcode renders QR codes as PNG or SVG, for the labels operators print for watches (the
// code carries what binding accepts). It wraps github.com/skip2/go-qrcode, which does the encoding
// (Reed-Solomon, masking, version choice); this package only adds the SVG rendering and the limits.
package qrcode

import (
	"fmt"
	"strconv"
	"strings"

	"kinwatch"

	qr "github.com/skip2/go-qrcode"
)

// MaxContent bounds what a code may carry: watch ids and invitation links are far shorter, and a
// bound keeps a request from asking for a huge symbol.
const MaxContent = 512

// level is the error correction: medium survives a scuffed sticker and keeps symbols small.
const level = qr.Medium

func encode(content string) (*qr.QRCode, error) {
	if content == "" || len(content) > MaxContent {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "a QR code carries 1 to %d bytes", MaxContent)
	}
	q, err := qr.New(content, level)
	if err != nil {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "cannot encode a QR code: %v", err)
	}
	return q, nil
}

// PNG renders content as a size×size pixel PNG, quiet zone included.
func PNG(content string, size int) ([]byte, error) {
	if size < 21 || size > 4096 {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "size: 21 to 4096 pixels")
	}
	q, err := encode(content)
	if err != nil {
		return nil, err
	}
	b, err := q.PNG(size)
	if err != nil {
		return nil, fmt.Errorf("qrcode: %w", err)
	}
	return b, nil
}

// SVG renders content as an SVG whose modules are moduleSize units wide, with the standard quiet
// zone of four modules. Dark modules of a row are merged into runs, so the document stays small.
func SVG(content string, moduleSize int) ([]byte, error) {
	if moduleSize < 1 || moduleSize > 64 {
		return nil, kinwatch.Errorf(kinwatch.EINVALID, "module size: 1 to 64")
	}
	q, err := encode(content)
	if err != nil {
		return nil, err
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	const quiet = 4
	n := len(bits) + 2*quiet
	px := strconv.Itoa(n * moduleSize)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="` + px + `" height="` + px +
		`" viewBox="0 0 ` + strconv.Itoa(n) + ` ` + strconv.Itoa(n) + `" shape-rendering="crispEdges">` + "\n")
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/>` + "\n")
	b.WriteString(`<path fill="#000" d="`)
	for y, row := range bits {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < len(row) && row[x] {
				x++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", start+quiet, y+quiet, x-start, x-start)
		}
	}
	b.WriteString(`"/>` + "\n</svg>\n")
	return []byte(b.String()), nil
}
