package family_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/commands"
	"kinwatch/envelope"
	"kinwatch/family"
	"kinwatch/fileblob"
	"kinwatch/inproc"
	"kinwatch/sqlite"
)

// recorder notes which devices and accounts the service reported as changed.
type recorder struct {
	mu        sync.Mutex
	devices   []string
	accounts  []string
	forgotten []string
}

func (r *recorder) Forget(id string) {
	r.mu.Lock()
	r.forgotten = append(r.forgotten, id)
	r.mu.Unlock()
}

func (r *recorder) NotifyDevice(id string) {
	r.mu.Lock()
	r.devices = append(r.devices, id)
	r.mu.Unlock()
}
func (r *recorder) RefreshAccess(id string) {
	r.mu.Lock()
	r.accounts = append(r.accounts, id)
	r.mu.Unlock()
}

type env struct {
	t   *testing.T
	db  *sqlite.DB
	svc *family.Service
	rec *recorder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), envelope.NewMaster())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := fileblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := inproc.New(100)
	t.Cleanup(func() { bus.Close() })
	rec := &recorder{}
	svc := &family.Service{Store: db, Commands: &commands.Service{Store: db, Bus: bus, TTL: time.Hour}, Blobs: blobs,
		Devices: rec, Access: rec, BaseURL: "https://kinwatch.example"}
	return &env{t: t, db: db, svc: svc, rec: rec}
}

func (e *env) account(name string, verified bool) *kinwatch.Account {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := &kinwatch.Account{ID: kinwatch.NewID(), Email: name + "@example.org", Profile: kinwatch.Profile{Nickname: name},
		CreatedAt: now, UpdatedAt: now}
	if verified {
		a.EmailVerifiedAt = now
	}
	if err := e.db.CreateAccount(context.Background(), a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// watch registers a connected (online) pending watch.
func (e *env) watch(id string) {
	e.t.Helper()
	online := true
	if err := e.db.WriteBatch(context.Background(), []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: id, Time: time.Now(), Online: &online}}}); err != nil {
		e.t.Fatal(err)
	}
}

// shownCode is the code the MESSAGE command put on the watch's screen.
func (e *env) shownCode(id string) string {
	e.t.Helper()
	cmds, err := e.db.PendingCommands(context.Background(), id)
	if err != nil || len(cmds) == 0 {
		e.t.Fatalf("no command for %s: %v", id, err)
	}
	last := cmds[len(cmds)-1]
	if last.Keyword != "MESSAGE" {
		e.t.Fatalf("last command %s", last.Keyword)
	}
	// The text is UTF-16BE hex: digits are 003x.
	digits := regexp.MustCompile(`003([0-9])`).FindAllStringSubmatch(string(last.Content), -1)
	code := ""
	for _, d := range digits {
		code += d[1]
	}
	if len(code) < 6 {
		e.t.Fatalf("no code in %q", last.Content)
	}
	return code[len(code)-6:]
}

func code(err error) string { return kinwatch.ErrorCode(err) }

func TestBindingProofOfPossession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, unverified := e.account("mum", true), e.account("new", false)
	e.watch("8800000001")

	if _, err := e.svc.StartBinding(ctx, unverified, family.BindRequest{Code: "8800000001"}); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("unverified account: %v", err)
	}
	if _, err := e.svc.StartBinding(ctx, mum, family.BindRequest{Code: "8800009999"}); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("unknown watch: %v", err)
	}
	if _, err := e.svc.StartBinding(ctx, mum, family.BindRequest{Code: "../etc"}); code(err) != kinwatch.EINVALID {
		t.Fatalf("garbage code: %v", err)
	}
	start, err := e.svc.StartBinding(ctx, mum, family.BindRequest{Code: " https://example.org/w?id=8800000001 "})
	if err != nil {
		t.Fatal(err)
	}
	pin := e.shownCode("8800000001")
	wrong := "000000"
	if wrong == pin {
		wrong = "111111"
	}
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, wrong, ""); code(err) != kinwatch.EINVALID {
		t.Fatalf("wrong code: %v", err)
	}
	// Someone else's challenge is not theirs to confirm, even with the right code.
	dad := e.account("dad", true)
	if _, err := e.svc.ConfirmBinding(ctx, dad, start.Challenge.ID, pin, ""); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("another account's challenge: %v", err)
	}
	acc, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, pin, "")
	if err != nil || acc.Role != kinwatch.RoleAdmin {
		t.Fatalf("confirm: %+v %v", acc, err)
	}
	if d, _ := e.db.Device(ctx, "8800000001"); d.State != kinwatch.DeviceBound {
		t.Fatalf("state %s", d.State)
	}
	f, err := e.db.Family(ctx, acc.FamilyID)
	if err != nil || f.Name != "mum's family" {
		t.Fatalf("family %+v %v", f, err)
	}
	if !slices.Contains(e.rec.devices, "8800000001") || !slices.Contains(e.rec.accounts, mum.ID) {
		t.Fatalf("gateway/stream not told: %v %v", e.rec.devices, e.rec.accounts)
	}
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, pin, ""); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("challenge reused: %v", err)
	}
	// The watch is bound now: a second guardian scanning it asks the admin instead.
	if _, err := e.svc.StartBinding(ctx, dad, family.BindRequest{Code: "8800000001", Note: "bad\x00note"}); code(err) != kinwatch.EINVALID {
		t.Fatalf("note with a control character: %v", err)
	}
	res, err := e.svc.StartBinding(ctx, dad, family.BindRequest{Code: "8800000001", Note: " I'm Lena's dad "})
	if err != nil || res.JoinRequest == nil || res.JoinRequest.FamilyID != acc.FamilyID {
		t.Fatalf("bound watch: %+v %v", res, err)
	}
	reqs, err := e.svc.JoinRequests(ctx, mum.ID, acc.FamilyID)
	if err != nil || len(reqs) != 1 || reqs[0].Note != "I'm Lena's dad" || reqs[0].AccountID != dad.ID {
		t.Fatalf("the admin's join requests: %+v %v", reqs, err)
	}
	if _, err := e.svc.StartBinding(ctx, dad, family.BindRequest{Code: "8800000001"}); code(err) != kinwatch.ECONFLICT {
		t.Fatalf("second join request: %v", err)
	}
}

func TestBindingAttemptsAndExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	e.svc.Now = func() time.Time { return now }
	mum := e.account("mum", true)
	e.watch("8800000002")
	start, err := e.svc.StartBinding(ctx, mum, family.BindRequest{Code: "8800000002"})
	if err != nil {
		t.Fatal(err)
	}
	pin := e.shownCode("8800000002")
	wrong := "000000"
	if wrong == pin {
		wrong = "111111"
	}
	for i := 0; i < 4; i++ {
		if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, wrong, ""); code(err) != kinwatch.EINVALID {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, wrong, ""); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("fifth wrong code: %v", err)
	}
	// Spent: even the right code no longer works.
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, pin, ""); err == nil {
		t.Fatal("a challenge with five wrong codes still bound the watch")
	}
	start, err = e.svc.StartBinding(ctx, mum, family.BindRequest{Code: "8800000002"})
	if err != nil {
		t.Fatal(err)
	}
	pin = e.shownCode("8800000002")
	now = now.Add(11 * time.Minute)
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, pin, ""); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("expired code: %v", err)
	}
}

func TestOfflineWatchCannotBeBound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	off := false
	if err := e.db.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: "8800000003", Time: time.Now(), Online: &off}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.StartBinding(ctx, e.account("mum", true), family.BindRequest{Code: "8800000003"}); code(err) != kinwatch.ECONFLICT {
		t.Fatalf("offline watch: %v", err)
	}
}

// TestBindingIntoAFamilyNeedsTheAdminStill: a binding started for an existing family cannot be
// confirmed by a guardian who stopped being its admin meanwhile.
func TestBindingIntoAFamilyNeedsTheAdminStill(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum := e.account("mum", true)
	acc := e.bound(mum, "8800000011")
	if !slices.Contains(e.rec.forgotten, "8800000011") {
		t.Fatal("the stream was not told to forget what it holds about the newly bound watch")
	}
	e.watch("8800000012")
	start, err := e.svc.StartBinding(ctx, mum, family.BindRequest{Code: "8800000012", FamilyID: acc.FamilyID})
	if err != nil {
		t.Fatal(err)
	}
	pin := e.shownCode("8800000012")
	m, err := e.db.Member(ctx, acc.FamilyID, mum.ID)
	if err != nil {
		t.Fatal(err)
	}
	m.Role = kinwatch.RoleGuardian
	if err := e.db.UpdateMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ConfirmBinding(ctx, mum, start.Challenge.ID, pin, ""); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("confirming as a former admin: %v", err)
	}
	if d, _ := e.db.Device(ctx, "8800000012"); d.State != kinwatch.DevicePending {
		t.Fatalf("state %s", d.State)
	}
}

// bound binds a watch for admin through the whole proof-of-possession flow.
func (e *env) bound(admin *kinwatch.Account, id string) *kinwatch.WatchAccess {
	e.t.Helper()
	e.watch(id)
	start, err := e.svc.StartBinding(context.Background(), admin, family.BindRequest{Code: id})
	if err != nil {
		e.t.Fatal(err)
	}
	acc, err := e.svc.ConfirmBinding(context.Background(), admin, start.Challenge.ID, e.shownCode(id), "Family")
	if err != nil {
		e.t.Fatal(err)
	}
	// The guardian consents to every purpose, so the child's data is collected.
	if err := app.SeedConsent(context.Background(), e.db, acc.FamilyID, admin.ID, id, "test"); err != nil {
		e.t.Fatal(err)
	}
	return acc
}

func TestInvitationsRolesAndLeaving(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, gran, dad := e.account("mum", true), e.account("gran", true), e.account("dad", true)
	acc := e.bound(mum, "8800000004")

	if _, _, err := e.svc.Invite(ctx, gran.ID, acc.FamilyID, kinwatch.RoleViewer, 1, 0); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("outsider invites: %v", err)
	}
	if _, _, err := e.svc.Invite(ctx, mum.ID, acc.FamilyID, kinwatch.RoleAdmin, 1, 0); code(err) != kinwatch.EINVALID {
		t.Fatalf("admin invitation: %v", err)
	}
	_, inviteCode, err := e.svc.Invite(ctx, mum.ID, acc.FamilyID, kinwatch.RoleViewer, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.svc.Accept(ctx, gran, " "+inviteCode+" ", "grandma")
	if err != nil || m.Role != kinwatch.RoleViewer || m.FamilyID != acc.FamilyID {
		t.Fatalf("accept: %+v %v", m, err)
	}
	if _, err := e.svc.Accept(ctx, dad, inviteCode, ""); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("used-up invitation: %v", err)
	}
	// A viewer sees but does not control.
	if _, err := e.svc.Require(ctx, gran.ID, "8800000004", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Require(ctx, gran.ID, "8800000004", true); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("viewer control: %v", err)
	}
	if _, err := e.svc.UpdateChildProfile(ctx, gran.ID, "8800000004", family.ChildPatch{}); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("viewer edits the child: %v", err)
	}
	// Members see each other; the viewer may change her own relation but not her role.
	ms, err := e.svc.Members(ctx, gran.ID, acc.FamilyID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("members: %d %v", len(ms), err)
	}
	rel := "granny"
	if _, err := e.svc.UpdateMember(ctx, gran.ID, acc.FamilyID, gran.ID, family.MemberPatch{Relation: &rel}); err != nil {
		t.Fatal(err)
	}
	guardian := kinwatch.RoleGuardian
	if _, err := e.svc.UpdateMember(ctx, gran.ID, acc.FamilyID, gran.ID, family.MemberPatch{Role: &guardian}); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("viewer promotes herself: %v", err)
	}
	if _, err := e.svc.UpdateMember(ctx, mum.ID, acc.FamilyID, gran.ID, family.MemberPatch{Role: &guardian}); err != nil {
		t.Fatal(err)
	}
	// The admin cannot leave before handing over.
	if err := e.svc.RemoveMember(ctx, mum.ID, acc.FamilyID, mum.ID); code(err) != kinwatch.ECONFLICT {
		t.Fatalf("admin leaves: %v", err)
	}
	if err := e.svc.TransferAdmin(ctx, mum.ID, acc.FamilyID, gran.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveMember(ctx, mum.ID, acc.FamilyID, mum.ID); err != nil {
		t.Fatalf("former admin leaves: %v", err)
	}
	if _, err := e.svc.Require(ctx, mum.ID, "8800000004", false); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("after leaving: %v", err)
	}
	if !slices.Contains(e.rec.accounts, mum.ID) {
		t.Fatal("the stream was not told that mum left")
	}
}

func TestUnbindDeletesTheWatchData(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, gran := e.account("mum", true), e.account("gran", true)
	acc := e.bound(mum, "8800000005")
	_, inviteCode, _ := e.svc.Invite(ctx, mum.ID, acc.FamilyID, kinwatch.RoleGuardian, 1, 0)
	if _, err := e.svc.Accept(ctx, gran, inviteCode, ""); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.svc.Blobs.Put(ctx, "8800000005/photo.jpg", []byte("jpeg")); err != nil {
		t.Fatal(err)
	}
	if err := e.db.WriteBatch(ctx, []kinwatch.Record{
		{Position: &kinwatch.Position{ID: kinwatch.NewTimeID(now), DeviceID: "8800000005", Type: "UD", Time: now, Received: now, HasCoords: true, Lat: 1, Lon: 2}},
		{Media: &kinwatch.Media{ID: kinwatch.NewID(), DeviceID: "8800000005", Kind: kinwatch.MediaImage, ContentType: "image/jpeg", Key: "8800000005/photo.jpg", Size: 4, Time: now}},
	}); err != nil {
		t.Fatal(err)
	}
	name := "Mia"
	if _, err := e.svc.UpdateChildProfile(ctx, gran.ID, "8800000005", family.ChildPatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Unbind(ctx, gran.ID, "8800000005"); code(err) != kinwatch.EFORBIDDEN {
		t.Fatalf("guardian unbinds: %v", err)
	}
	if err := e.svc.Unbind(ctx, mum.ID, "8800000005"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.LatestPosition(ctx, "8800000005"); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("positions survived unbinding: %v", err)
	}
	if _, err := e.svc.Blobs.Get(ctx, "8800000005/photo.jpg"); err == nil {
		t.Fatal("photo survived unbinding")
	}
	if _, err := e.db.ChildProfile(ctx, "8800000005"); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("child profile survived unbinding: %v", err)
	}
	if d, _ := e.db.Device(ctx, "8800000005"); d.State != kinwatch.DevicePending {
		t.Fatalf("state after unbinding: %s", d.State)
	}
	if !slices.Contains(e.rec.forgotten, "8800000005") {
		t.Fatal("the stream was not told to forget what it holds about the unbound watch")
	}
	for _, id := range []string{mum.ID, gran.ID} {
		if _, err := e.svc.Require(ctx, id, "8800000005", false); code(err) != kinwatch.ENOTFOUND {
			t.Fatalf("access after unbinding: %v", err)
		}
		if !slices.Contains(e.rec.accounts, id) {
			t.Fatalf("stream not told that %s lost the watch", id)
		}
	}
}

func TestParseWatchCode(t *testing.T) {
	for in, want := range map[string]string{
		"8800000001": "8800000001", " 88000-00001 ": "8800000001", "https://x.example/bind?id=352661090143150": "352661090143150",
		"IMEI:352661090143150": "352661090143150",
	} {
		if got, err := family.ParseWatchCode(in); err != nil || got != want {
			t.Errorf("ParseWatchCode(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "../../x", "a/b/", "12345678901234567890123456789012345"} {
		if _, err := family.ParseWatchCode(bad); code(err) != kinwatch.EINVALID {
			t.Errorf("ParseWatchCode(%q) accepted", bad)
		}
	}
}

// gatedBlobs holds the first Put of a key under prefix until release is closed.
type gatedBlobs struct {
	kinwatch.BlobStore
	prefix  string
	entered chan struct{}
	release chan struct{}
	armed   bool
}

func (g *gatedBlobs) Put(ctx context.Context, key string, data []byte) error {
	if g.armed && strings.HasPrefix(key, g.prefix) {
		g.armed = false
		close(g.entered)
		<-g.release
	}
	return g.BlobStore.Put(ctx, key, data)
}

func (e *env) gate(prefix string) *gatedBlobs {
	g := &gatedBlobs{BlobStore: e.svc.Blobs, prefix: prefix, entered: make(chan struct{}), release: make(chan struct{}), armed: true}
	e.svc.Blobs = g
	return g
}

// heldUpload starts an upload of a child's picture by account and returns once it is about to
// store the file; it goes on when release is closed, and done reports how it ended.
func (e *env) heldUpload(account *kinwatch.Account, dev string) (release chan struct{}, done chan error) {
	g := e.gate("children/")
	done = make(chan error, 1)
	go func() {
		_, err := e.svc.SetChildAvatar(context.Background(), account.ID, dev, testPNG(e.t, 32), "image/png")
		done <- err
	}()
	<-g.entered
	return g.release, done
}

func testPNG(t *testing.T, side int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, side, side))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// storedPictures lists the picture files kept for a watch.
func (e *env) storedPictures(blobs kinwatch.BlobStore, dev string) []string {
	files, _ := filepath.Glob(filepath.Join(blobs.(*fileblob.Store).Dir, "children", dev, "[^.]*"))
	return files
}

// TestChildPictureRacingUnbind: a picture upload in flight while the admin unbinds the watch is
// not kept: the next family never sees the previous child's picture, and no file is left.
func TestChildPictureRacingUnbind(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, stranger := e.account("mum", true), e.account("stranger", true)
	const w = "8800000077"
	e.bound(mum, w)
	blobs := e.svc.Blobs
	release, done := e.heldUpload(mum, w)
	if err := e.svc.Unbind(ctx, mum.ID, w); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("upload racing the unbinding: %v, want not found", err)
	}
	if files := e.storedPictures(blobs, w); len(files) != 0 {
		t.Fatalf("pictures left after the unbinding: %v", files)
	}
	e.bound(stranger, w) // another family binds the watch with a new code
	if _, _, err := e.svc.ChildAvatar(ctx, stranger.ID, w); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("the new family sees a picture: %v", err)
	}
}

// TestConcurrentChildPictures: two uploads at once leave one picture, not an orphan.
func TestConcurrentChildPictures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum := e.account("mum", true)
	const w = "8800000078"
	e.bound(mum, w)
	blobs := e.svc.Blobs
	release, done := e.heldUpload(mum, w)
	if _, err := e.svc.SetChildAvatar(ctx, mum.ID, w, testPNG(t, 40), "image/png"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if files := e.storedPictures(blobs, w); len(files) != 1 {
		t.Fatalf("%d pictures stored for one child profile: %v", len(files), files)
	}
	if _, _, err := e.svc.ChildAvatar(ctx, mum.ID, w); err != nil {
		t.Fatalf("the kept picture: %v", err)
	}
}

// TestMemberAvatarOnlyOfMembers: a member's family opens the pictures of its own members, not of
// anyone whose account id the caller names.
func TestMemberAvatarOnlyOfMembers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, other := e.account("mum", true), e.account("other", true)
	acc := e.bound(mum, "8800000079")
	e.bound(other, "8800000080")
	key := "avatars/" + other.ID + "/x"
	if _, err := e.db.SetAccountAvatar(ctx, other.ID, key); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Blobs.Put(ctx, key, testPNG(t, 32)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.MemberAvatar(ctx, mum.ID, acc.FamilyID, other.ID); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("a non-member's picture through my family: %v", err)
	}
	if _, _, err := e.svc.MemberAvatar(ctx, other.ID, acc.FamilyID, mum.ID); code(err) != kinwatch.ENOTFOUND {
		t.Fatalf("a member's picture for someone outside the family: %v", err)
	}
}

// TestFamilyRetention: the admin chooses shorter periods within the operator's; members read them.
func TestFamilyRetention(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mum, gran := e.account("mum", true), e.account("gran", true)
	acc := e.bound(mum, "8800000031")
	_, inviteCode, _ := e.svc.Invite(ctx, mum.ID, acc.FamilyID, kinwatch.RoleViewer, 1, 0)
	if _, err := e.svc.Accept(ctx, gran, inviteCode, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who  *kinwatch.Account
		days map[kinwatch.RetentionClass]int
		code string
	}{
		{gran, map[kinwatch.RetentionClass]int{kinwatch.RetainLocation: 7}, kinwatch.EFORBIDDEN},
		{mum, map[kinwatch.RetentionClass]int{kinwatch.RetainLocation: 91}, kinwatch.EINVALID},
		{mum, map[kinwatch.RetentionClass]int{kinwatch.RetainLocation: 0}, kinwatch.EINVALID},
		{mum, map[kinwatch.RetentionClass]int{kinwatch.RetainLoginRecords: 7}, kinwatch.EINVALID},
		{mum, map[kinwatch.RetentionClass]int{"everything": 7}, kinwatch.EINVALID},
	} {
		if _, err := e.svc.SetRetention(ctx, tc.who.ID, acc.FamilyID, tc.days); code(err) != tc.code {
			t.Errorf("%s sets %v: %v, want %s", tc.who.Profile.Nickname, tc.days, err, tc.code)
		}
	}
	if _, err := e.svc.SetRetention(ctx, mum.ID, acc.FamilyID, map[kinwatch.RetentionClass]int{kinwatch.RetainLocation: 7, kinwatch.RetainVoice: 3}); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.FamilyRetention(ctx, gran.ID, acc.FamilyID)
	if err != nil || v.Effective[kinwatch.RetainLocation] != 7 || v.Operator[kinwatch.RetainLocation] != 90 || v.Effective[kinwatch.RetainHealth] != 90 || v.Effective[kinwatch.RetainVoice] != 3 {
		t.Fatalf("retention as the viewer sees it: %+v %v", v, err)
	}
}
