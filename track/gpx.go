package track

import (
	"bufio"
	"encoding/xml"
	"io"
	"strconv"
	"time"
)

// WriteGPX writes pts as a GPX 1.1 document with one track of one segment, times in RFC 3339 UTC
// and the source of each point in <src>. Points without valid coordinates are left out, as GPX
// has no way to say "unknown".
func WriteGPX(w io.Writer, name string, pts []Point) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(xml.Header)
	bw.WriteString(`<gpx version="1.1" creator="kinwatch" xmlns="http://www.topografix.com/GPX/1/1">` + "\n<trk>")
	if name != "" {
		bw.WriteString("<name>")
		xml.EscapeText(bw, []byte(name)) // errors stick in bw and come out of Flush
		bw.WriteString("</name>")
	}
	bw.WriteString("\n<trkseg>\n")
	var buf []byte
	for _, p := range pts {
		if !validCoords(p.Lat, p.Lon) {
			continue
		}
		buf = append(buf[:0], `<trkpt lat="`...)
		buf = strconv.AppendFloat(buf, p.Lat, 'f', -1, 64)
		buf = append(buf, `" lon="`...)
		buf = strconv.AppendFloat(buf, p.Lon, 'f', -1, 64)
		buf = append(buf, `">`...)
		if t := p.Time.UTC(); !t.IsZero() && t.Year() >= 0 && t.Year() <= 9999 {
			buf = append(buf, "<time>"...)
			buf = t.AppendFormat(buf, time.RFC3339Nano)
			buf = append(buf, "</time>"...)
		}
		bw.Write(buf)
		if p.Source != "" {
			bw.WriteString("<src>")
			xml.EscapeText(bw, []byte(p.Source))
			bw.WriteString("</src>")
		}
		bw.WriteString("</trkpt>\n")
	}
	bw.WriteString("</trkseg>\n</trk>\n</gpx>\n")
	return bw.Flush()
}
