package httpapi

import (
	"io"
	"net/http"
	"strconv"

	"kinwatch"
	"kinwatch/picture"
)

// readPicture reads an uploaded picture's bytes and declared type; package picture checks them.
func readPicture(r *http.Request) ([]byte, string, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, "", kinwatch.Errorf(kinwatch.EINVALID, "the picture is larger than %d bytes", picture.MaxBytes)
		}
		return nil, "", kinwatch.Errorf(kinwatch.EINVALID, "the picture could not be read")
	}
	return data, r.Header.Get("Content-Type"), nil
}

// writePicture serves a stored picture. Its type is read from its content, which was checked on
// upload; the headers keep a browser from treating it as anything but an image.
func writePicture(w http.ResponseWriter, data []byte) {
	w.Header().Set("Content-Type", picture.Type(data))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(data)
}

func (s *Server) myAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, err := s.Accounts.Avatar(ctx(r), c.account.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, data)
}

func (s *Server) setMyAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, ct, err := readPicture(r)
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
	if _, err := s.Accounts.DeleteAvatar(ctx(r), c.account.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) memberAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, err := s.Families.MemberAvatar(ctx(r), c.account.ID, r.PathValue("family"), r.PathValue("account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, data)
}

func (s *Server) childAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, err := s.Families.ChildAvatar(ctx(r), c.account.ID, r.PathValue("watch"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePicture(w, data)
}

func (s *Server) setChildAvatar(w http.ResponseWriter, r *http.Request, c *caller) {
	data, ct, err := readPicture(r)
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
	if _, err := s.Families.DeleteChildAvatar(ctx(r), c.account.ID, r.PathValue("watch")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
