package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kinwatch"
)

// decode reads a JSON body into v strictly: unknown fields, trailing data and wrong types are
// errors the client can act on. The body must be declared as JSON: a cross-site HTML form can
// send text/plain that parses as JSON (to sign a victim's browser in to the attacker's account,
// say) but cannot set this content type without the CORS preflight that the API never grants.
func decode(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return kinwatch.Errorf(kinwatch.EINVALID, "the body must be sent with Content-Type: application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return kinwatch.Errorf(kinwatch.EINVALID, "a JSON body is required")
		case errors.As(err, &mbe):
			return kinwatch.Errorf(kinwatch.EINVALID, "the body is larger than %d bytes", mbe.Limit)
		case errors.As(err, &se):
			return kinwatch.Errorf(kinwatch.EINVALID, "the body is not valid JSON (at byte %d)", se.Offset)
		case errors.As(err, &te):
			return kinwatch.Errorf(kinwatch.EINVALID, "%s: must be a JSON %s", te.Field, te.Type.Kind())
		default:
			return kinwatch.Errorf(kinwatch.EINVALID, "the body is not what this route takes: %s", truncate(err.Error(), 120))
		}
	}
	if dec.More() {
		return kinwatch.Errorf(kinwatch.EINVALID, "the body has data after its JSON value")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// page is the shape of every list: items and, when more exist, the cursor of the next page.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func list[T any](items []T) page[T] {
	if items == nil {
		items = []T{}
	}
	return page[T]{Items: items}
}

// timeCursor encodes a page boundary of a newest-first history (the last item's time and id)
// opaquely, so clients cannot come to depend on it.
func timeCursor(t time.Time, id string) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixNano(), 36) + "." + id))
	return &s
}

func parseTimeCursor(s string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		ts, id, ok := strings.Cut(string(b), ".")
		var n int64
		if n, err = strconv.ParseInt(ts, 36, 64); err == nil && ok && id != "" {
			return time.Unix(0, n).UTC(), id, nil
		}
	}
	return time.Time{}, "", kinwatch.Errorf(kinwatch.EINVALID, "cursor: not a cursor this API returned")
}

// pageParams reads cursor and limit of a newest-first list without a time window.
func pageParams(r *http.Request, defLimit, maxLimit int) (kinwatch.Page, error) {
	var p kinwatch.Page
	if c := r.URL.Query().Get("cursor"); c != "" {
		var err error
		if p.Before, p.BeforeID, err = parseTimeCursor(c); err != nil {
			return p, err
		}
	}
	var err error
	p.Limit, err = intParam(r, "limit", defLimit, 1, maxLimit)
	return p, err
}

// seqCursor encodes a page boundary of the command list (the last command's seq) opaquely.
func seqCursor(seq int64) *string {
	s := base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(seq, 36)))
	return &s
}

func parseSeqCursor(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil && len(b) > 1 && b[0] == 's' {
		if n, err := strconv.ParseInt(string(b[1:]), 36, 64); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, kinwatch.Errorf(kinwatch.EINVALID, "cursor: not a cursor this API returned")
}

// window reads from/to/limit/cursor of a history query. to is exclusive; the cursor moves it and
// sets beforeID, so records sharing the boundary's time are neither skipped nor repeated.
func window(r *http.Request, defLimit, maxLimit int) (from, to time.Time, beforeID string, limit int, err error) {
	q := r.URL.Query()
	parse := func(name string) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, kinwatch.Errorf(kinwatch.EINVALID, "%s: an RFC 3339 time such as 2026-05-01T08:00:00Z", name)
		}
		return t, nil
	}
	if from, err = parse("from"); err != nil {
		return
	}
	if to, err = parse("to"); err != nil {
		return
	}
	if c := q.Get("cursor"); c != "" {
		var (
			ct time.Time
			id string
		)
		if ct, id, err = parseTimeCursor(c); err != nil {
			return
		}
		if to.IsZero() || ct.Before(to) {
			to, beforeID = ct, id
		}
	}
	if !from.IsZero() && !to.IsZero() && (to.Before(from) || to.Equal(from) && beforeID == "") {
		err = kinwatch.Errorf(kinwatch.EINVALID, "from must be before to")
		return
	}
	limit, err = intParam(r, "limit", defLimit, 1, maxLimit)
	return
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, kinwatch.Errorf(kinwatch.EINVALID, "%s: a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// rfc3339 renders a time for JSON, null for the zero time.
func rfc3339(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func errorf(code, format string, args ...any) error { return kinwatch.Errorf(code, format, args...) }
