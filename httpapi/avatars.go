package httpapi

import (
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"

	"kinwatch"
	"kinwatch/picture"
)

// readPicture reads an uploaded picture's bytes (the body, not JSON) and its declared type;
// package picture checks them.
func readPicture(w http.ResponseWriter, r *http.Request) ([]byte, string, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, picture.MaxBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, "", kinwatch.Errorf(kinwatch.EINVALID, "the picture is larger than %d bytes", picture.MaxBytes)
		}
		return nil, "", kinwatch.Errorf(kinwatch.EINVALID, "the picture could not be read")
	}
	return data, r.Header.Get("Content-Type"), nil
}

// writePicture serves a stored picture. Its type is read from its content, which was checked on
// upload (anything else would be served as bytes to download, never as a page); the headers keep
// a browser from treating it as anything but an image. Its key names this version of the picture
// (a new upload gets a new key), so it is the ETag and a client's cached copy costs a 304.
func writePicture(w http.ResponseWriter, r *http.Request, data []byte, key string) {
	etag := `"` + path.Base(key) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := picture.Type(data)
	if ct != "image/png" && ct != "image/jpeg" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(data)
}

func (s *Server) myAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, key, err := s.Accounts.Avatar(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, r, data, key)
}

func (s *Server) setMyAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, ct, err := readPicture(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := s.Accounts.SetAvatar(ctx(r), c.account.ID, data, ct)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, myAccount(a))
}

func (s *Server) deleteMyAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Accounts.DeleteAvatar(ctx(r), c.account.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) memberAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, key, err := s.Families.MemberAvatar(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, r, data, key)
}

func (s *Server) childAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	if s.audited(w, r, c, kinwatch.AccessPhoto, "the child's picture") == nil {
		return
	}
	data, key, err := s.Families.ChildAvatar(ctx(r), c.account.ID, r.PathValue("watch"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, r, data, key)
}

func (s *Server) setChildAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, ct, err := readPicture(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.Families.SetChildAvatar(ctx(r), c.account.ID, r.PathValue("watch"), data, ct)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toChild(p))
}

func (s *Server) deleteChildAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	if err := s.Families.DeleteChildAvatar(ctx(r), c.account.ID, r.PathValue("watch")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
