package app_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"kinwatch/config"
	"kinwatch/postgres/pgtest"
	"kinwatch/watchproto"
)

// TestExport: a guardian's export holds the account and everything kept about the children of
// their families, as documented JSON and the media themselves; the mailed link downloads it once,
// and nobody gets it without the link's secret.
func TestExport(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { exportEverything(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		exportEverything(t, c)
	})
}

var exportLink = regexp.MustCompile(`/api/v1/exports/[a-z0-9]+/download\?token=[A-Za-z0-9_-]+`)

func exportEverything(t *testing.T, cfg config.Config) {
	a, api, smtp, _ := startAPIWith(t, cfg)
	mum := api.signUp(smtp, "mum.export@example.org", "Mum", cfg.PolicyVersion)
	other := api.signUp(smtp, "other@example.org", "Other", cfg.PolicyVersion)
	if code, _, _ := api.raw(mum, "PUT", "/api/v1/me/avatar", "image/png", pictureOf(t, 20, 20)); code != 200 {
		t.Fatalf("avatar: %d", code)
	}
	w := dialWatch(t, a.WatchAddr().String(), "8800000601")
	w.send("LK")
	w.expect("LK")
	api.bindWatch(mum, w, "Export family")
	api.call(mum, "PATCH", "/api/v1/watches/"+w.id+"/child", map[string]any{"name": "Mia Export"}, nil)
	w.send(udFrame(time.Now().Add(-time.Minute), 47.123456, 9.654321))
	w.send(string(watchproto.AppendEscaped([]byte("TK,"), []byte("#!AMR\nexport-voice"))))
	w.expect("TK")
	waitFor(t, "position stored", func() bool {
		p, err := a.Store.LatestPosition(t.Context(), w.id)
		return err == nil && p.Lat == 47.123456
	})

	var job struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if code := api.call(mum, "POST", "/api/v1/me/exports", nil, &job); code != 202 || job.State != "queued" {
		t.Fatalf("request: %d %+v", code, job)
	}
	if code := api.call(mum, "POST", "/api/v1/me/exports", nil, nil); code != 409 {
		t.Fatalf("a second export at once: %d, want 409", code)
	}
	m := smtp.Wait(t, "mum.export@example.org", 20*time.Second)
	link := exportLink.FindString(m.Text)
	if link == "" || !strings.Contains(link, job.ID) {
		t.Fatalf("no download link in the mail: %q", m.Text)
	}
	if code := api.call(mum, "GET", "/api/v1/me/exports/"+job.ID, nil, &job); code != 200 || job.State != "ready" {
		t.Fatalf("after the mail: %d %+v", code, job)
	}
	if code := api.call(other, "GET", "/api/v1/me/exports/"+job.ID, nil, nil); code != 404 {
		t.Errorf("another account sees the export: %d", code)
	}
	get := func(path string) (int, []byte) {
		resp, err := http.Get(api.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(strings.Split(link, "?")[0] + "?token=guessed"); code != 404 {
		t.Errorf("a guessed token: %d, want 404", code)
	}
	code, body := get(link)
	if code != 200 {
		t.Fatalf("download: %d %s", code, body)
	}
	if code, _ := get(link); code != 404 {
		t.Errorf("a second download: %d, want 404", code)
	}

	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var famDir string
	for name := range files {
		if strings.HasSuffix(name, "/family.json") {
			famDir = strings.TrimSuffix(name, "family.json")
		}
	}
	wdir := famDir + "watches/" + w.id + "/"
	for _, want := range []struct{ file, contains string }{
		{"README.md", "positions.json"},
		{"account.json", "mum.export@example.org"},
		{"account/sessions.json", "UserAgent"},
		{"account/consent-history.json", "[]"},
		{famDir + "family.json", "Export family"},
		{wdir + "child.json", "Mia Export"},
		{wdir + "positions.json", "47.123456"},
		{wdir + "consent-history.json", "reauthenticated"},
		{wdir + "watch.json", "location"},
		{wdir + "media.json", "audio"},
		{wdir + "commands.json", "MESSAGE"},
	} {
		if !strings.Contains(string(files[want.file]), want.contains) {
			t.Errorf("%s does not contain %q: %.300s", want.file, want.contains, files[want.file])
		}
	}
	if !bytes.Equal(files["account/picture.png"], pictureOf(t, 20, 20)) {
		t.Errorf("the profile picture is not in the export as uploaded")
	}
	var media []struct{ ID string }
	json.Unmarshal(files[wdir+"media.json"], &media)
	if len(media) != 1 || string(files[wdir+"media/"+media[0].ID+".amr"]) != "#!AMR\nexport-voice" {
		t.Errorf("the voice message is not in the export: %v", media)
	}
	for name, b := range files {
		if strings.HasSuffix(name, ".json") && !json.Valid(b) {
			t.Errorf("%s is not valid JSON", name)
		}
		if bytes.Contains(b, []byte("argon2")) {
			t.Errorf("%s holds the password hash", name)
		}
	}
	// The family's access log shows the export.
	var log struct {
		Items []struct {
			What    string `json:"what"`
			WatchID string `json:"watch_id"`
		} `json:"items"`
	}
	famID := strings.TrimSuffix(strings.TrimPrefix(famDir, "families/"), "/")
	if code := api.call(mum, "GET", "/api/v1/families/"+famID+"/access-log", nil, &log); code != 200 ||
		!slices.ContainsFunc(log.Items, func(e struct {
			What    string `json:"what"`
			WatchID string `json:"watch_id"`
		}) bool {
			return e.What == "export" && e.WatchID == w.id
		}) {
		t.Errorf("access log after the export: %d %+v", code, log.Items)
	}
	// Downloaded, the export is gone from the blob store.
	if code := api.call(mum, "GET", "/api/v1/me/exports/"+job.ID, nil, &job); code != 200 || job.State != "downloaded" {
		t.Errorf("after the download: %+v", job)
	}
}
