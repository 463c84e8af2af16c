package rights

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"kinwatch"
	kwmail "kinwatch/mail"
)

// Mailer sends the link to a finished export.
type Mailer interface {
	Send(ctx context.Context, m kwmail.Message) error
}

// Export timing.
const (
	ExportTTL   = 7 * 24 * time.Hour // a ready export is deleted after this if not downloaded
	exportStale = 30 * time.Minute   // a running job not finished by then is taken again
)

// exportKey is where a job's ZIP lives in the blob store, sealed with the account's key.
func exportKey(accountID, id string) string { return "exports/" + accountID + "/" + id + ".zip" }

// RequestExport queues an export of everything kept about the account and the children in its
// families; one export at a time (ECONFLICT while one is being made or waits to be downloaded).
func (s *Service) RequestExport(ctx context.Context, accountID string) (*kinwatch.ExportJob, error) {
	jobs, err := s.Store.ExportJobs(ctx, accountID, 20)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		switch j.State {
		case kinwatch.ExportQueued, kinwatch.ExportRunning:
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "an export is being prepared already (%s)", j.ID)
		case kinwatch.ExportReady:
			return nil, kinwatch.Errorf(kinwatch.ECONFLICT, "an export waits to be downloaded (%s); download it or wait until it expires", j.ID)
		}
	}
	j := &kinwatch.ExportJob{ID: kinwatch.NewID(), AccountID: accountID, State: kinwatch.ExportQueued, CreatedAt: s.now()}
	if err := s.Store.CreateExportJob(ctx, j); err != nil {
		return nil, err
	}
	s.wakeExports()
	return j, nil
}

// Export returns one of the account's exports.
func (s *Service) Export(ctx context.Context, accountID, id string) (*kinwatch.ExportJob, error) {
	return s.Store.ExportJob(ctx, accountID, id)
}

// Exports lists the account's exports, newest first.
func (s *Service) Exports(ctx context.Context, accountID string) ([]*kinwatch.ExportJob, error) {
	return s.Store.ExportJobs(ctx, accountID, 50)
}

// DownloadLink gives a ready export a new secret for its download link (an earlier link stops
// working) and returns the link's path.
func (s *Service) DownloadLink(ctx context.Context, accountID, id string) (string, error) {
	j, err := s.Store.ExportJob(ctx, accountID, id)
	if err != nil {
		return "", err
	}
	if j.State != kinwatch.ExportReady {
		return "", kinwatch.Errorf(kinwatch.ECONFLICT, "the export is %s, not ready", j.State)
	}
	secret, hash := newSecret()
	j.TokenHash = hash
	if err := s.Store.UpdateExportJob(ctx, j, kinwatch.ExportReady); err != nil {
		return "", err
	}
	return downloadPath(j.ID, secret), nil
}

func downloadPath(id, secret string) string {
	return "/api/v1/exports/" + id + "/download?token=" + secret
}

func newSecret() (string, []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, h[:]
}

// Download writes a ready export to w once, for the holder of its link's secret, and deletes it.
// Anything wrong (unknown id, wrong or used secret, expired) is the same ENOTFOUND. size is called
// with the ZIP's length before the first byte is written.
func (s *Service) Download(ctx context.Context, id, secret string, size func(int64), w io.Writer) error {
	gone := kinwatch.Errorf(kinwatch.ENOTFOUND, "no such export, or its link was used or has expired")
	j, err := s.Store.ExportJobByID(ctx, id)
	if err != nil {
		return gone
	}
	h := sha256.Sum256([]byte(secret))
	if j.State != kinwatch.ExportReady || len(j.TokenHash) == 0 || subtle.ConstantTimeCompare(h[:], j.TokenHash) != 1 || !s.now().Before(j.ExpiresAt) {
		return gone
	}
	data, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.AccountOwner(j.AccountID), j.BlobKey)
	if err != nil {
		return err
	}
	// Counted before it is sent: two requests with the same link cannot both get it.
	done := *j
	done.State, done.TokenHash, done.FinishedAt = kinwatch.ExportDownloaded, nil, s.now()
	if err := s.Store.UpdateExportJob(ctx, &done, kinwatch.ExportReady); err != nil {
		return gone
	}
	size(int64(len(data)))
	_, werr := w.Write(data)
	s.deleteBlob(ctx, j.BlobKey)
	return werr
}

// RunExports works export jobs until ctx ends: it takes queued ones (and ones whose worker died),
// and deletes ready ones nobody downloaded in time.
func (s *Service) RunExports(ctx context.Context, poll time.Duration) {
	for {
		for ctx.Err() == nil {
			j, err := s.Store.ClaimExportJob(ctx, s.now(), s.now().Add(-exportStale))
			if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
				break
			}
			if err != nil {
				s.log().Error("export: taking a job failed", "err", err)
				break
			}
			s.runExport(ctx, j)
		}
		s.expireExports(ctx)
		select {
		case <-ctx.Done():
			return
		case <-s.exportWake():
		case <-time.After(poll):
		}
	}
}

func (s *Service) runExport(ctx context.Context, j *kinwatch.ExportJob) {
	started := time.Now()
	a, err := s.Store.Account(ctx, j.AccountID)
	var zipped []byte
	if err == nil {
		zipped, err = s.build(ctx, a)
	}
	if err == nil {
		err = s.Store.EnsureKey(ctx, kinwatch.AccountOwner(a.ID))
	}
	// A key per attempt: a worker that took a job over from one that seemed dead never deletes
	// the other's finished ZIP.
	key := exportKey(j.AccountID, j.ID+"-"+strconv.FormatInt(j.StartedAt.UnixNano(), 36))
	if err == nil {
		err = kinwatch.PutSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.AccountOwner(a.ID), key, zipped)
	}
	done := *j
	done.FinishedAt = s.now()
	var secret string
	if err != nil {
		s.log().Error("export failed", "export", j.ID, "account", j.AccountID, "err", err)
		done.State, done.Error = kinwatch.ExportFailed, "the export could not be made; ask for a new one"
	} else {
		secret, done.TokenHash = newSecret()
		done.State, done.BlobKey, done.Size, done.ExpiresAt = kinwatch.ExportReady, key, int64(len(zipped)), done.FinishedAt.Add(ExportTTL)
	}
	if uerr := s.Store.UpdateExportJob(ctx, &done, kinwatch.ExportRunning); uerr != nil {
		// Cancelled meanwhile, or taken by another worker after looking stale: keep nothing.
		if err == nil {
			s.deleteBlob(ctx, key)
		}
		return
	}
	if err != nil {
		return
	}
	s.log().Info("export ready", "export", j.ID, "account", j.AccountID, "bytes", len(zipped), "took", time.Since(started).Round(time.Millisecond))
	if s.Mailer != nil && a.Email != "" {
		s.Mailer.Send(ctx, kwmail.Message{To: a.Email, Subject: "Your Kinwatch data export is ready",
			Text: fmt.Sprintf("The export of your Kinwatch data you asked for is ready. Download it once from this link, within 7 days:\n\n%s%s\n\n"+
				"It holds your account and everything kept about the children in your families. If you did not ask for it, change your password.\n",
				strings.TrimRight(s.BaseURL, "/"), downloadPath(j.ID, secret))})
	}
}

// expireExports deletes ready exports nobody downloaded in time.
func (s *Service) expireExports(ctx context.Context) {
	jobs, err := s.Store.ExpiredExportJobs(ctx, s.now(), 100)
	if err != nil {
		s.log().Error("export: listing expired exports failed", "err", err)
		return
	}
	for _, j := range jobs {
		done := *j
		done.State, done.TokenHash = kinwatch.ExportExpired, nil
		if s.Store.UpdateExportJob(ctx, &done, kinwatch.ExportReady) == nil {
			s.deleteBlob(ctx, j.BlobKey)
		}
	}
}

// zipWriter writes the export's files.
type zipWriter struct {
	z   *zip.Writer
	err error
}

func (zw *zipWriter) json(name string, v any) {
	if zw.err != nil {
		return
	}
	w, err := zw.z.Create(name)
	if err != nil {
		zw.err = err
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	zw.err = enc.Encode(v)
}

func (zw *zipWriter) file(name string, data []byte) {
	if zw.err != nil {
		return
	}
	w, err := zw.z.Create(name)
	if err == nil {
		_, err = w.Write(data)
	}
	zw.err = err
}

// build makes the ZIP of everything kept about the account and its families' children.
func (s *Service) build(ctx context.Context, a *kinwatch.Account) ([]byte, error) {
	var buf bytes.Buffer
	zw := &zipWriter{z: zip.NewWriter(&buf)}
	zw.file("README.md", []byte(exportReadme))
	zw.json("account.json", exportAccount(a))
	if a.Profile.Avatar != "" {
		pic, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), kinwatch.AccountOwner(a.ID), a.Profile.Avatar)
		if err != nil {
			return nil, err
		}
		zw.file("account/picture"+pictureExt(pic), pic)
	}
	sessions, err := s.Store.Sessions(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	type sessionJSON struct {
		ID, Kind, UserAgent, IP          string
		CreatedAt, LastUsedAt, ExpiresAt time.Time
	}
	ss := []sessionJSON{}
	for _, x := range sessions {
		ss = append(ss, sessionJSON{x.ID, x.Kind, x.UserAgent, x.IP, x.CreatedAt, x.LastUsedAt, x.ExpiresAt})
	}
	zw.json("account/sessions.json", ss)
	ids, err := s.Store.Identities(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	zw.json("account/identities.json", nonNilSlice(ids))
	own, err := allPages(func(p kinwatch.Page) ([]*kinwatch.Consent, error) { return s.Store.AccountConsents(ctx, a.ID, p) },
		func(c *kinwatch.Consent) (time.Time, string) { return c.Time, c.ID })
	if err != nil {
		return nil, err
	}
	zw.json("account/consent-history.json", own)
	notices, err := s.Store.AccountNotices(ctx, a.ID, 10000)
	if err != nil {
		return nil, err
	}
	zw.json("account/notices.json", nonNilSlice(notices))
	prefs, err := s.Store.NotificationPrefs(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	subs, err := s.Store.PushSubscriptions(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	type browserJSON struct {
		ID, Endpoint, UserAgent string
		CreatedAt               time.Time
	}
	browsers := []browserJSON{}
	for _, b := range subs {
		browsers = append(browsers, browserJSON{b.ID, b.Endpoint, b.UserAgent, b.CreatedAt})
	}
	zw.json("account/notifications.json", struct {
		Preferences *kinwatch.NotificationPrefs
		Browsers    []browserJSON
	}{prefs, browsers})
	fams, err := s.Store.Families(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range fams {
		if err := s.exportFamily(ctx, zw, a.ID, m); err != nil {
			return nil, err
		}
	}
	if zw.err != nil {
		return nil, zw.err
	}
	if err := zw.z.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Service) exportFamily(ctx context.Context, zw *zipWriter, accountID string, m *kinwatch.Membership) error {
	dir := "families/" + m.Family.ID + "/"
	members, err := s.Store.Members(ctx, m.Family.ID)
	if err != nil {
		return err
	}
	retention, err := s.Store.FamilyRetention(ctx, m.Family.ID)
	if err != nil {
		return err
	}
	zw.json(dir+"family.json", struct {
		ID, Name  string
		CreatedAt time.Time
		YourRole  kinwatch.Role
		Members   []*kinwatch.Member
		Retention map[kinwatch.RetentionClass]int `json:"RetentionDays"`
	}{m.Family.ID, m.Family.Name, m.Family.CreatedAt, m.Role, members, retention})
	reads, err := allPages(func(p kinwatch.Page) ([]*kinwatch.Access, error) { return s.Store.AccessLog(ctx, m.Family.ID, p) },
		func(a *kinwatch.Access) (time.Time, string) { return a.Time, a.ID })
	if err != nil {
		return err
	}
	zw.json(dir+"access-log.json", reads)
	if m.Role == kinwatch.RoleAdmin { // the admin manages them; their URLs can carry tokens
		hooks, err := s.Store.Webhooks(ctx, m.Family.ID)
		if err != nil {
			return err
		}
		type hookJSON struct {
			ID, Name, URL, Format, CreatedBy string
			CreatedAt                        time.Time
		}
		out := []hookJSON{}
		for _, h := range hooks {
			out = append(out, hookJSON{h.ID, h.Name, h.URL, h.Format, h.CreatedBy, h.CreatedAt})
		}
		zw.json(dir+"webhooks.json", out)
	}
	watches, err := s.Store.FamilyWatches(ctx, m.Family.ID)
	if err != nil {
		return err
	}
	owner := kinwatch.FamilyOwner(m.Family.ID)
	for _, w := range watches {
		wdir := dir + "watches/" + w + "/"
		// An export reads everything of the child: the family's access log says so.
		if err := s.Store.RecordAccess(ctx, &kinwatch.Access{ID: kinwatch.NewID(), FamilyID: m.Family.ID, DeviceID: w,
			AccessorID: accountID, What: kinwatch.AccessExport, Time: s.now()}); err != nil {
			return err
		}
		d, err := s.Store.Device(ctx, w)
		if err != nil {
			return err
		}
		zw.json(wdir+"watch.json", struct {
			*kinwatch.Device
			Consent []kinwatch.Purpose
		}{d, d.Consent.List()})
		if p, err := s.Store.ChildProfile(ctx, w); err == nil {
			zw.json(wdir+"child.json", p)
			if p.Avatar != "" {
				pic, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), owner, p.Avatar)
				if err != nil {
					return err
				}
				zw.file(wdir+"child-picture"+pictureExt(pic), pic)
			}
		} else if kinwatch.ErrorCode(err) != kinwatch.ENOTFOUND {
			return err
		}
		if err := s.exportPositions(ctx, zw, wdir, w); err != nil {
			return err
		}
		events, err := allPages(func(p kinwatch.Page) ([]*kinwatch.Event, error) {
			return s.Store.Events(ctx, kinwatch.EventFilter{DeviceID: w, To: p.Before, BeforeID: p.BeforeID, Limit: p.Limit})
		}, func(e *kinwatch.Event) (time.Time, string) { return e.Time, e.ID })
		if err != nil {
			return err
		}
		zw.json(wdir+"events.json", events)
		health, err := allPages(func(p kinwatch.Page) ([]*kinwatch.HealthReading, error) { return s.Store.HealthReadings(ctx, w, p) },
			func(h *kinwatch.HealthReading) (time.Time, string) { return h.Time, h.ID })
		if err != nil {
			return err
		}
		zw.json(wdir+"health.json", health)
		ledger, err := allPages(func(p kinwatch.Page) ([]*kinwatch.Consent, error) { return s.Store.ChildConsents(ctx, w, p) },
			func(c *kinwatch.Consent) (time.Time, string) { return c.Time, c.ID })
		if err != nil {
			return err
		}
		zw.json(wdir+"consent-history.json", ledger)
		fences, err := s.Store.Fences(ctx, w)
		if err != nil {
			return err
		}
		type fenceJSON struct {
			ID                   string
			Definition           json.RawMessage
			CreatedAt, UpdatedAt time.Time
		}
		fs := []fenceJSON{}
		for _, f := range fences {
			def := json.RawMessage(f.Definition)
			if !json.Valid(def) {
				def, _ = json.Marshal(string(f.Definition))
			}
			fs = append(fs, fenceJSON{f.ID, def, f.CreatedAt, f.UpdatedAt})
		}
		zw.json(wdir+"safe-zones.json", fs)
		if err := s.exportCommands(ctx, zw, wdir, w, m.Role.CanControl()); err != nil {
			return err
		}
		media, err := allPages(func(p kinwatch.Page) ([]*kinwatch.Media, error) { return s.Store.MediaList(ctx, w, p) },
			func(m *kinwatch.Media) (time.Time, string) { return m.Time, m.ID })
		if err != nil {
			return err
		}
		zw.json(wdir+"media.json", media)
		for _, md := range media {
			data, err := kinwatch.GetSealed(ctx, s.Blobs, s.Store.Keys(), owner, md.Key)
			if kinwatch.ErrorCode(err) == kinwatch.ENOTFOUND {
				continue // deleted by retention meanwhile
			}
			if err != nil {
				return err
			}
			zw.file(wdir+"media/"+md.ID+path.Ext(md.Key), data)
		}
	}
	return nil
}

// exportPositions streams a watch's positions into one JSON array, page by page.
func (s *Service) exportPositions(ctx context.Context, zw *zipWriter, dir, watch string) error {
	if zw.err != nil {
		return zw.err
	}
	w, err := zw.z.Create(dir + "positions.json")
	if err != nil {
		return err
	}
	io.WriteString(w, "[")
	f := kinwatch.PositionFilter{DeviceID: watch, Limit: 1000}
	first := true
	for {
		ps, err := s.Store.Positions(ctx, f)
		if err != nil {
			return err
		}
		for _, p := range ps {
			b, err := json.Marshal(p)
			if err != nil {
				return err
			}
			if !first {
				io.WriteString(w, ",")
			}
			first = false
			io.WriteString(w, "\n  ")
			w.Write(b)
		}
		if len(ps) < f.Limit {
			break
		}
		f.To, f.BeforeID = ps[len(ps)-1].Time, ps[len(ps)-1].ID
	}
	_, err = io.WriteString(w, "\n]\n")
	return err
}

// exportCommands writes a watch's commands; their content (phone book, numbers, messages) only
// for those who may send them, as the API shows it.
func (s *Service) exportCommands(ctx context.Context, zw *zipWriter, dir, watch string, content bool) error {
	type commandJSON struct {
		ID, Keyword, Content, State, Reply, Error, RequestedBy string
		CreatedAt, SentAt, DoneAt                              time.Time
	}
	out := []commandJSON{}
	before := int64(0)
	for {
		cs, err := s.Store.Commands(ctx, watch, before, 500)
		if err != nil {
			return err
		}
		for _, c := range cs {
			text := ""
			if content {
				text = string(c.Content)
			}
			out = append(out, commandJSON{c.ID, c.Keyword, text, string(c.State), c.Reply, c.Error, c.RequestedBy, c.CreatedAt, c.SentAt, c.DoneAt})
		}
		if len(cs) < 500 {
			break
		}
		before = cs[len(cs)-1].Seq
	}
	zw.json(dir+"commands.json", out)
	return nil
}

// allPages reads every page of a newest-first list.
func allPages[T any](read func(kinwatch.Page) ([]*T, error), cursor func(*T) (time.Time, string)) ([]*T, error) {
	out := []*T{}
	p := kinwatch.Page{Limit: 1000}
	for {
		page, err := read(p)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < p.Limit {
			return out, nil
		}
		p.Before, p.BeforeID = cursor(page[len(page)-1])
	}
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func pictureExt(b []byte) string {
	if bytes.HasPrefix(b, []byte("\x89PNG")) {
		return ".png"
	}
	return ".jpg"
}

// exportAccount is the account without its password hash and counters.
func exportAccount(a *kinwatch.Account) any {
	return struct {
		ID, Email, Phone string
		EmailVerifiedAt  time.Time
		Profile          kinwatch.Profile
		Preferences      kinwatch.Preferences
		PolicyVersion    string
		PolicyAccepted   time.Time
		Consent          []kinwatch.Purpose
		CreatedAt        time.Time
		UpdatedAt        time.Time
	}{a.ID, a.Email, a.Phone, a.EmailVerifiedAt, a.Profile, a.Preferences, a.PolicyVersion, a.PolicyAccepted, a.Consent.List(), a.CreatedAt, a.UpdatedAt}
}

const exportReadme = `# Your Kinwatch data

This archive holds everything Kinwatch keeps about your account and about the children in your
families, as JSON (UTF-8, times in RFC 3339 UTC) and the files themselves.

- account.json: your account: email, phone, profile, preferences, the policy version you accepted,
  your current consent. Your password is not in it (only a hash of it is kept).
- account/picture.*: your profile picture.
- account/sessions.json: where you are signed in: kind, browser or app, IP address, when.
- account/identities.json: sign-in providers linked to your account.
- account/consent-history.json: every consent you gave or withdrew for your own data.
- account/notices.json: the operator's notices to you (incidents, policy changes …), read or not.
- account/notifications.json: which alarms reach you how, your quiet hours, and the browsers
  subscribed to alarms (their push service address; not their keys).
- families/<id>/family.json: each family: name, members with their roles, your role, the retention
  the family chose (days per kind of data).
- families/<id>/webhooks.json (for the family's admin): the addresses the family's alarms are
  posted to; not their signing secrets.
- families/<id>/access-log.json: who read the children's location history, voice messages,
  photos, health readings and profiles, when, and (for the operator's staff) why.
- families/<id>/watches/<id>/: for each watch of the family:
  - watch.json: the watch: state, battery, steps, SIM, firmware, the child's current consent.
  - child.json and child-picture.*: the child's profile and picture.
  - positions.json: every position kept: time, coordinates, altitude, accuracy, the Wi-Fi access
    points and mobile cells heard, speed, battery, alarms.
  - events.json: alarms (SOS, fall, low battery …), connections, command results.
  - health.json: heart rate, blood pressure, SpO2 and temperature readings.
  - commands.json: the commands sent to the watch, by whom, and its answers.
  - consent-history.json: every consent given or withdrawn for the child.
  - safe-zones.json: the watch's safe zones (name, shape, schedules).
  - media.json and media/*: voice messages (AMR) and photos (JPEG).

Data is kept as long as the retention periods allow; see the privacy policy.
`
