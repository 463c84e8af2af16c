package app_test

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pictureOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// raw sends body with contentType and returns the status and the response body.
func (c *client) raw(token, method, path, contentType string, body []byte) (int, []byte, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// blobFiles lists the files of the blob store under dir.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestPictures: a guardian's profile picture and a child's, through the public API: checked on
// upload, served back as stored to those who may see them, replaced without leaving the old one
// behind, and deleted with the watch's data when it is unbound.
func TestPictures(t *testing.T) {
	a, api, smtp, cfg := startAPI(t)
	mum := api.signUp(smtp, "mum@example.org", "Mum", cfg.PolicyVersion)
	grandpa := api.signUp(smtp, "grandpa@example.org", "Grandpa", cfg.PolicyVersion)
	stranger := api.signUp(smtp, "stranger@example.org", "Stranger", cfg.PolicyVersion)

	// Refused: not a picture, a type that does not match, a picture too small.
	for _, tc := range []struct {
		ct   string
		body []byte
	}{
		{"text/plain", []byte("hello")},
		{"image/png", []byte("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")},
		{"image/jpeg", pictureOf(t, 64, 64)},
		{"image/png", pictureOf(t, 4, 4)},
		{"", pictureOf(t, 64, 64)},
	} {
		if code, body, _ := api.raw(mum, "PUT", "/api/v1/me/avatar", tc.ct, tc.body); code != 400 {
			t.Fatalf("upload as %q: %d %s", tc.ct, code, body)
		}
	}
	first, second := pictureOf(t, 64, 64), pictureOf(t, 96, 96)
	if code, body, _ := api.raw(mum, "PUT", "/api/v1/me/avatar", "image/png", first); code != 200 || !strings.Contains(string(body), `"avatar_url":"/api/v1/me/avatar"`) {
		t.Fatalf("upload: %d %s", code, body)
	}
	blobDir := filepath.Join(cfg.DataDir, "media")
	before := blobFiles(t, blobDir)
	if code, _, _ := api.raw(mum, "PUT", "/api/v1/me/avatar", "image/png", second); code != 200 {
		t.Fatalf("replace: %d", code)
	}
	if after := blobFiles(t, blobDir); len(after) != len(before) {
		t.Fatalf("replacing the picture left the old one: %v → %v", before, after)
	}
	code, got, h := api.raw(mum, "GET", "/api/v1/me/avatar", "", nil)
	if code != 200 || !bytes.Equal(got, second) || h.Get("Content-Type") != "image/png" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download: %d, %d bytes, %v", code, len(got), h)
	}
	// The ETag names this upload: revalidating a cached copy costs a 304.
	req, _ := http.NewRequest("GET", api.base+"/api/v1/me/avatar", nil)
	req.Header.Set("Authorization", "Bearer "+mum)
	req.Header.Set("If-None-Match", h.Get("ETag"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h.Get("ETag") == "" || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidating with ETag %q: %d", h.Get("ETag"), resp.StatusCode)
	}

	// The watch, bound by Mum; Grandpa joins as a viewer and sees Mum's face, a stranger does not.
	w := dialWatch(t, a.WatchAddr().String(), "8800000088")
	w.send("LK")
	w.expect("LK")
	familyID := api.bindWatch(mum, w, "Ours")
	var inv struct {
		Code string `json:"code"`
	}
	if code := api.call(mum, "POST", "/api/v1/families/"+familyID+"/invitations", map[string]any{"role": "viewer"}, &inv); code != 201 {
		t.Fatalf("invite: %d", code)
	}
	if code := api.call(grandpa, "POST", "/api/v1/invitations/accept", map[string]any{"code": inv.Code}, nil); code != 200 {
		t.Fatalf("accept: %d", code)
	}
	var members struct {
		Items []struct {
			Nickname  string  `json:"nickname"`
			AvatarURL *string `json:"avatar_url"`
		} `json:"items"`
	}
	api.call(grandpa, "GET", "/api/v1/families/"+familyID+"/members", nil, &members)
	var mumsURL string
	for _, m := range members.Items {
		if m.Nickname == "Mum" && m.AvatarURL != nil {
			mumsURL = *m.AvatarURL
		}
		if m.Nickname == "Grandpa" && m.AvatarURL != nil {
			t.Fatalf("Grandpa has no picture, yet: %s", *m.AvatarURL)
		}
	}
	if code, got, _ := api.raw(grandpa, "GET", mumsURL, "", nil); mumsURL == "" || code != 200 || !bytes.Equal(got, second) {
		t.Fatalf("Mum's picture for Grandpa at %q: %d", mumsURL, code)
	}
	if code, _, _ := api.raw(stranger, "GET", mumsURL, "", nil); code != 404 {
		t.Fatalf("Mum's picture for a stranger: %d", code)
	}

	// The child's picture: the admin sets it, the viewer sees it but cannot change it.
	child := pictureOf(t, 48, 64)
	if code, _, _ := api.raw(grandpa, "PUT", "/api/v1/watches/8800000088/child/avatar", "image/png", child); code != 403 {
		t.Fatalf("viewer sets the child's picture: %d", code)
	}
	if code, body, _ := api.raw(mum, "PUT", "/api/v1/watches/8800000088/child/avatar", "image/png", child); code != 200 ||
		!strings.Contains(string(body), `"avatar_url":"/api/v1/watches/8800000088/child/avatar"`) {
		t.Fatalf("admin sets the child's picture: %d %s", code, body)
	}
	if code, got, _ := api.raw(grandpa, "GET", "/api/v1/watches/8800000088/child/avatar", "", nil); code != 200 || !bytes.Equal(got, child) {
		t.Fatalf("viewer sees the child's picture: %d", code)
	}
	if code, _, _ := api.raw(stranger, "GET", "/api/v1/watches/8800000088/child/avatar", "", nil); code != 404 {
		t.Fatalf("a stranger sees the child's picture: %d", code)
	}

	// Unbinding deletes it with the rest of the watch's data; Mum's own picture stays.
	withChild := blobFiles(t, blobDir)
	if code := api.call(mum, "DELETE", "/api/v1/watches/8800000088", nil, nil); code != 204 {
		t.Fatalf("unbind: %d", code)
	}
	left := blobFiles(t, blobDir)
	if len(left) != len(withChild)-1 {
		t.Fatalf("blobs after unbinding: %v (before: %v)", left, withChild)
	}
	for _, f := range left {
		if strings.Contains(f, "8800000088") {
			t.Fatalf("the child's picture survived unbinding: %s", f)
		}
	}
	// And removing her own picture leaves no file.
	if code, _, _ := api.raw(mum, "DELETE", "/api/v1/me/avatar", "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _, _ := api.raw(mum, "GET", "/api/v1/me/avatar", "", nil); code != 404 {
		t.Fatalf("after deleting: %d", code)
	}
	if files := blobFiles(t, blobDir); len(files) != len(left)-1 {
		t.Fatalf("blobs after deleting the picture: %v", files)
	}
}
