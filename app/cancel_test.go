package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"kinwatch"
	"kinwatch/config"
	"kinwatch/mail/smtptest"
	"kinwatch/postgres/pgtest"
	"kinwatch/privacy"
	"kinwatch/watchproto"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"
)

// TestCancelAccountLeavesNothing: an account with data in every table and blob class is
// cancelled; then a dump of the whole database and every file of the blob store hold none of the
// personal values written, the family it shared goes on intact, and a backup copy of its sealed
// data no longer opens (its keys are shredded).
func TestCancelAccountLeavesNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { cancelLeavesNothing(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		cancelLeavesNothing(t, c)
	})
}

func cancelLeavesNothing(t *testing.T, cfg config.Config) {
	a, api, smtp, _ := startAPIWith(t, cfg)
	ctx := context.Background()

	// Everything Anna writes carries "xulix", so a dump can be searched for it ("u", "l" and "i"
	// are not in the ids' alphabet, so no random id can contain it).
	anna := api.signUp(smtp, "anna.xulix@example.org", "Annabelle Xulix", cfg.PolicyVersion)
	bert := api.signUp(smtp, "bert@example.org", "Bert", cfg.PolicyVersion)
	var me struct {
		ID string `json:"id"`
	}
	api.call(anna, "GET", "/api/v1/me", nil, &me)
	if code := api.call(anna, "PATCH", "/api/v1/me", map[string]any{"bio": "bio-xulix loves hiking", "birthday": "1990-07-07"}, nil); code != 200 {
		t.Fatalf("profile: %d", code)
	}
	if code, _, _ := api.raw(anna, "PUT", "/api/v1/me/avatar", "image/png", pictureOf(t, 33, 17)); code != 200 {
		t.Fatalf("avatar: %d", code)
	}
	// A session from a browser whose user agent is recognisable.
	req, _ := http.NewRequest("POST", api.base+"/api/v1/auth/login", strings.NewReader(`{"login":"anna.xulix@example.org","password":"correct horse battery","session":"bearer"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "UA-xulix/1.0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("second sign-in: %v", err)
	} else {
		resp.Body.Close()
	}
	if code := api.call(anna, "POST", "/api/v1/me/email", map[string]any{"password": "correct horse battery", "email": "new.xulix@example.org"}, nil); code >= 300 {
		t.Fatalf("email change: %d", code)
	}
	var own struct {
		PolicyVersion string `json:"policy_version"`
	}
	api.call(anna, "GET", "/api/v1/me/consent", nil, &own)
	if code := api.call(anna, "PUT", "/api/v1/me/consent", map[string]any{"grant": []string{"marketing"}, "policy_version": own.PolicyVersion}, nil); code != 200 {
		t.Fatalf("own consent: %d", code)
	}

	// Anna's own family: a watch with a profile, a picture, positions, an alarm, a voice message
	// and a command with a phone number.
	w1 := dialWatch(t, a.WatchAddr().String(), "8800000501")
	w1.send("LK")
	w1.expect("LK")
	fam1 := api.bindWatch(anna, w1, "Family xulix")
	if code := api.call(anna, "PATCH", "/api/v1/watches/"+w1.id+"/child", map[string]any{"name": "Kid xulix", "school": "School xulix", "phone": "+4915100000777"}, nil); code != 200 {
		t.Fatalf("child profile: %d", code)
	}
	if code, _, _ := api.raw(anna, "PUT", "/api/v1/watches/"+w1.id+"/child/avatar", "image/png", pictureOf(t, 21, 34)); code != 200 {
		t.Fatalf("child avatar: %d", code)
	}
	w1.send(udFrame(time.Now().Add(-time.Minute), 48.777777, 11.777777))
	w1.send("AL,281126,101501,A,48.777777,N,11.777777,E,0,0,30,7,80,67,100,0,00010000,0,0")
	w1.expect("AL")
	w1.send(string(watchproto.AppendEscaped([]byte("TK,"), []byte("#!AMR\nxulixvoice"))))
	w1.expect("TK")
	if code := api.call(anna, "POST", "/api/v1/watches/"+w1.id+"/commands", map[string]any{"type": "sos_number", "params": map[string]any{"slot": 1, "phone": "+4915100000888"}}, nil); code != 202 {
		t.Fatalf("command: %d", code)
	}
	w1.expect("SOS1")

	// Bert's family, which Anna joins: it must go on without her.
	w2 := dialWatch(t, a.WatchAddr().String(), "8800000502")
	w2.send("LK")
	w2.expect("LK")
	fam2 := api.bindWatch(bert, w2, "Bert's family")
	if code := api.call(bert, "PATCH", "/api/v1/watches/"+w2.id+"/child", map[string]any{"name": "Bert's kid"}, nil); code != 200 {
		t.Fatalf("bert's child: %d", code)
	}
	var inv struct {
		Code string `json:"code"`
	}
	api.call(bert, "POST", "/api/v1/families/"+fam2+"/invitations", map[string]any{"role": "guardian"}, &inv)
	if code := api.call(anna, "POST", "/api/v1/invitations/accept", map[string]any{"code": inv.Code, "relation": "aunt-xulix"}, nil); code != 200 {
		t.Fatalf("accept: %d", code)
	}
	if code := api.call(anna, "POST", "/api/v1/watches/"+w2.id+"/commands", map[string]any{"type": "sos_number", "params": map[string]any{"slot": 2, "phone": "+4915100000999"}}, nil); code != 202 {
		t.Fatalf("anna's command to bert's watch: %d", code)
	}
	w2.expect("SOS2")
	w2.send(udFrame(time.Now(), 50.5, 8.5))
	// Anna reads Bert's child's history: the family's access log names her.
	if code := api.call(anna, "GET", "/api/v1/watches/"+w2.id+"/positions", nil, nil); code != 200 {
		t.Fatalf("anna reads bert's watch: %d", code)
	}
	waitFor(t, "positions stored", func() bool {
		p1, e1 := a.Store.LatestPosition(ctx, w1.id)
		p2, e2 := a.Store.LatestPosition(ctx, w2.id)
		return e1 == nil && e2 == nil && p1.Lat == 48.777777 && p2.Lat == 50.5
	})
	waitFor(t, "voice stored", func() bool {
		ms, _ := a.Store.MediaList(ctx, w1.id, kinwatch.Page{})
		return len(ms) == 1
	})

	// An export waits to be downloaded.
	if code := api.call(anna, "POST", "/api/v1/me/exports", nil, nil); code != 202 {
		t.Fatalf("export: %d", code)
	}
	isExport := func(m smtptest.Received) bool { return strings.Contains(m.Subject, "export") }
	if m := smtp.WaitMatch(t, "anna.xulix@example.org", isExport, 20*time.Second); !exportLink.MatchString(m.Text) {
		t.Fatalf("export mail: %q", m.Text)
	}

	db := openDump(t, cfg)
	markers := []string{"xulix", "15100000777", "15100000888", "15100000999", me.ID, fam1}
	if found := db.search(t, markers); len(found) == 0 {
		t.Fatal("before cancelling, the dump shows none of Anna's values: the scan proves nothing")
	}
	// What is sealed at rest is not in the dump even now: the precise positions, the child's
	// profile, the phone numbers in commands.
	if found := db.search(t, []string{"48.777777", "11.777777", "Kid xulix", "School xulix", "15100000777", "15100000888", "15100000999"}); len(found) > 0 {
		t.Errorf("sealed values readable in the database:\n%s", strings.Join(found, "\n"))
	}
	// A "backup" of Anna's family's sealed data, taken before she cancels.
	backup := db.sealedPosition(t, w1.id)
	ms, _ := a.Store.MediaList(ctx, w1.id, kinwatch.Page{})
	voiceBackup, err := a.Blobs.Get(ctx, ms[0].Key)
	if err != nil {
		t.Fatal(err)
	}

	// The plan, then the cancellation: the phrase is required, then it is done.
	var plan struct {
		Statement string `json:"statement"`
		Families  []struct {
			ID      string `json:"id"`
			Outcome string `json:"outcome"`
		} `json:"families"`
	}
	if code := api.call(anna, "GET", "/api/v1/me/cancellation", nil, &plan); code != 200 || len(plan.Families) != 2 || !strings.Contains(plan.Statement, "cannot be undone") {
		t.Fatalf("plan: %d %+v", code, plan)
	}
	for _, f := range plan.Families {
		if want := map[string]string{fam1: "deleted", fam2: "kept"}[f.ID]; f.Outcome != want {
			t.Errorf("plan for %s: %s, want %s", f.ID, f.Outcome, want)
		}
	}
	if code := api.call(anna, "POST", "/api/v1/me/cancellation", map[string]any{"password": "correct horse battery", "confirm": "yes"}, nil); code != 400 {
		t.Fatalf("without the phrase: %d, want 400", code)
	}
	if code := api.call(anna, "POST", "/api/v1/me/cancellation", map[string]any{"password": "wrong horse battery", "confirm": "delete my account"}, nil); code != 403 {
		t.Fatalf("with a wrong password: %d, want 403", code)
	}
	if code := api.call(anna, "POST", "/api/v1/me/cancellation", map[string]any{"password": "correct horse battery", "confirm": "delete my account"}, nil); code != 200 {
		t.Fatalf("cancel: %d", code)
	}
	if code := api.call(anna, "GET", "/api/v1/me", nil, nil); code != 401 {
		t.Errorf("the cancelled account's session still works: %d", code)
	}
	// Records the watch sends now are not stored: it is pending.
	w1.send(udFrame(time.Now(), 48.777777, 11.777777))
	w1.send("LK")
	w1.expect("LK")

	// Nothing of Anna's in any table …
	if found := db.search(t, markers); len(found) > 0 {
		t.Errorf("after cancelling, the database still holds:\n%s", strings.Join(found, "\n"))
	}
	for _, hit := range db.search(t, []string{w1.id}) {
		if !strings.HasPrefix(hit, "devices:") {
			t.Errorf("the unbound watch is named outside its registry entry: %s", hit)
		}
	}
	// Every table the privacy registry says belongs to an account, a family or a child has no row
	// of Anna, her family or its child left: a table a later feature adds is checked as soon as
	// it is declared.
	owners := map[privacy.Owner][]string{
		privacy.OwnerAccount: {me.ID, kinwatch.AccountOwner(me.ID)},
		privacy.OwnerFamily:  {fam1, kinwatch.FamilyOwner(fam1)},
		privacy.OwnerChild:   {w1.id},
	}
	// An account's own consent entries must go, not stay behind nameless (ON DELETE SET NULL
	// clears the guardian on a child's entries only).
	if n := db.countWhere(t, "consents", "account_id IS NULL AND device_id IS NULL"); n > 0 {
		t.Errorf("%d of the account's own consent entries stayed behind without an account", n)
	}
	for _, table := range privacy.Tables {
		if table.Owner == privacy.OwnerNone || table.Name == "devices" { // a pending watch keeps its registry entry
			continue
		}
		for _, id := range owners[table.Owner] {
			if n := db.count(t, table.Name, table.OwnerColumn, id); n > 0 {
				t.Errorf("%s still has %d rows whose %s is %s", table.Name, n, table.OwnerColumn, id)
			}
		}
	}
	// … or blob.
	media := filepath.Join(cfg.DataDir, "media")
	filepath.WalkDir(media, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(media, path)
		if strings.Contains(rel, me.ID) || strings.Contains(rel, w1.id) {
			t.Errorf("blob %s survived the cancellation", rel)
		}
		if b, _ := os.ReadFile(path); strings.Contains(string(b), "xulix") {
			t.Errorf("blob %s holds Anna's data", rel)
		}
		return nil
	})
	// Copies of sealed values made before no longer open with the server's keys: the family's
	// data keys are shredded. (A database backup made before also holds the wrapped key, which
	// the master key opens until it is retired: see README, "Encryption at rest".)
	if _, err := a.Store.Keys().Open(ctx, kinwatch.FamilyOwner(fam1), []byte(backup.id), backup.sealed); err == nil {
		t.Error("a copy of a position opens after the cancellation")
	}
	if _, err := a.Store.Keys().Open(ctx, kinwatch.FamilyOwner(fam1), []byte(ms[0].Key), voiceBackup); err == nil {
		t.Error("a copy of a voice message opens after the cancellation")
	}

	// Bert's family goes on: his watch, its data and his role.
	if p, err := a.Store.LatestPosition(ctx, w2.id); err != nil || p.Lat != 50.5 {
		t.Errorf("bert's watch lost its positions: %v", err)
	}
	if p, err := a.Store.ChildProfile(ctx, w2.id); err != nil || p.Name != "Bert's kid" {
		t.Errorf("bert's child profile: %+v %v", p, err)
	}
	if log, err := a.Store.AccessLog(ctx, fam2, kinwatch.Page{}); err != nil || len(log) == 0 || log[len(log)-1].AccessorID != "" {
		t.Errorf("bert's family's access log after anna left: %+v %v; want her read kept without her id", log, err)
	}
	members, _ := a.Store.Members(ctx, fam2)
	if len(members) != 1 || members[0].Role != kinwatch.RoleAdmin {
		t.Errorf("bert's family after anna left: %+v", members)
	}
	if d, _ := a.Store.Device(ctx, w1.id); d.State != kinwatch.DevicePending || d.FamilyID != "" {
		t.Errorf("anna's watch after the cancellation: %+v", d)
	}
}

// dump reads the database the app uses, as raw rows.
type dump struct {
	sqlite *sql.DB
	pg     *pgx.Conn
}

func openDump(t *testing.T, cfg config.Config) *dump {
	t.Helper()
	if path := cfg.SQLitePath(); path != "" {
		db, err := sql.Open("sqlite", path+"?_query_only=1")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return &dump{sqlite: db}
	}
	conn, err := pgx.Connect(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &dump{pg: conn}
}

// rows returns every row of every table as "table: text of the row".
func (d *dump) rows(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	if d.sqlite != nil {
		tables := d.sqliteStrings(t, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
		for _, table := range tables {
			rows, err := d.sqlite.QueryContext(ctx, `SELECT * FROM `+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				var b strings.Builder
				for _, v := range vals {
					if bs, ok := v.([]byte); ok {
						b.Write(bs)
					} else {
						fmt.Fprint(&b, v)
					}
					b.WriteByte('|')
				}
				out = append(out, table+": "+b.String())
			}
			rows.Close()
		}
		return out
	}
	rows, err := d.pg.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		// The text form of a row shows bytea as hex: search its decoded form too.
		rows, err := d.pg.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			out = append(out, table+": "+s)
		}
	}
	return out
}

func (d *dump) sqliteStrings(t *testing.T, q string) []string {
	t.Helper()
	rows, err := d.sqlite.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// search returns the rows that contain any of the markers.
func (d *dump) search(t *testing.T, markers []string) []string {
	var found []string
	for _, row := range d.rows(t) {
		if slices.ContainsFunc(markers, func(m string) bool { return m != "" && strings.Contains(row, m) }) {
			found = append(found, row)
		}
	}
	return found
}

type sealedRow struct {
	id     string
	sealed []byte
}

// sealedPosition copies one of a watch's sealed positions, as a backup would.
func (d *dump) sealedPosition(t *testing.T, device string) sealedRow {
	t.Helper()
	var r sealedRow
	var err error
	if d.sqlite != nil {
		err = d.sqlite.QueryRow(`SELECT id, sealed FROM positions WHERE device_id = ? AND sealed IS NOT NULL LIMIT 1`, device).Scan(&r.id, &r.sealed)
	} else {
		err = d.pg.QueryRow(context.Background(), `SELECT id, sealed FROM positions WHERE device_id = $1 AND sealed IS NOT NULL LIMIT 1`, device).Scan(&r.id, &r.sealed)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// count returns how many rows of table have column = value.
func (d *dump) count(t *testing.T, table, column, value string) int {
	t.Helper()
	var n int
	var err error
	if d.sqlite != nil {
		err = d.sqlite.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+column+` = ?`, value).Scan(&n)
	} else {
		err = d.pg.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE `+
			pgx.Identifier{column}.Sanitize()+` = $1`, value).Scan(&n)
	}
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// countWhere returns how many rows of table match the condition.
func (d *dump) countWhere(t *testing.T, table, cond string) int {
	t.Helper()
	var n int
	var err error
	if d.sqlite != nil {
		err = d.sqlite.QueryRow(`SELECT count(*) FROM ` + table + ` WHERE ` + cond).Scan(&n)
	} else {
		err = d.pg.QueryRow(context.Background(), `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()+` WHERE `+cond).Scan(&n)
	}
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
