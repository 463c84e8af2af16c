package app_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"kinwatch/cli"
	"kinwatch/config"
	"kinwatch/postgres/pgtest"
)

// TestIncidentNotice: the operator runs kinwatch admin notify-incident against the running
// server's database; the affected account gets the notice by mail and in the app, another
// account gets neither, and marking it read is the addressee's alone.
func TestIncidentNotice(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { incidentNotice(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		c := testConfig(t)
		c.DatabaseURL = pgtest.URL(t)
		incidentNotice(t, c)
	})
}

type noticeItem struct {
	ID          string  `json:"id"`
	Kind        string  `json:"kind"`
	Title       string  `json:"title"`
	Body        string  `json:"body"`
	EffectiveAt *string `json:"effective_at"`
	ReadAt      *string `json:"read_at"`
}

func incidentNotice(t *testing.T, cfg config.Config) {
	_, api, smtp, _ := startAPIWith(t, cfg)
	anna := api.signUp(smtp, "anna.notice@example.org", "Anna", cfg.PolicyVersion)
	bert := api.signUp(smtp, "bert.notice@example.org", "Bert", cfg.PolicyVersion)
	var me struct {
		ID string `json:"id"`
	}
	api.call(anna, "GET", "/api/v1/me", nil, &me)

	args := []string{"admin", "notify-incident", "--data-dir", cfg.DataDir, "--smtp-addr", smtp.Addr(), "--smtp-tls", "none",
		"--smtp-from", "kinwatch@example.org", "--log-level", "warn",
		"--title", "Sign-in records exposed", "--happened", "Sign-in records of some accounts were readable by another operator's staff.",
		"--done", "We closed the access and reviewed who read them.", "--you-can", "Review your sessions and end the ones you do not know.",
		"--accounts", me.ID}
	if cfg.DatabaseURL != "" {
		args = append(args, "--database-url", cfg.DatabaseURL)
	}
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("notify-incident: %d %s %s", code, out.String(), errOut.String())
	}
	id := regexp.MustCompile(`incident notice (\S+) recorded for 1 accounts`).FindStringSubmatch(out.String())
	if id == nil || !strings.Contains(out.String(), "mail: 1 sent") {
		t.Fatalf("notify-incident said: %s", out.String())
	}

	m := smtp.Wait(t, "anna.notice@example.org", 10*time.Second)
	for _, want := range []string{"What happened\nSign-in records", "What we have done\nWe closed", "What you can do\nReview your sessions"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the mail lacks %q:\n%s", want, m.Text)
		}
	}
	for _, other := range smtp.Messages() {
		if strings.Contains(other.Subject, "Sign-in records exposed") && other.To[0] != "anna.notice@example.org" {
			t.Errorf("the incident was mailed to %v", other.To)
		}
	}

	var list struct {
		Items      []noticeItem `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}
	if code := api.call(anna, "GET", "/api/v1/me/notices", nil, &list); code != 200 || len(list.Items) != 1 {
		t.Fatalf("anna's notices: %d %+v", code, list)
	}
	n := list.Items[0]
	if n.ID != id[1] || n.Kind != "incident" || n.Title != "Sign-in records exposed" || !strings.Contains(n.Body, "What you can do") ||
		n.ReadAt != nil || n.EffectiveAt != nil {
		t.Errorf("anna's notice: %+v", n)
	}
	if code := api.call(bert, "GET", "/api/v1/me/notices", nil, &list); code != 200 || len(list.Items) != 0 {
		t.Errorf("bert sees: %d %+v", code, list.Items)
	}
	if code := api.call(bert, "POST", "/api/v1/me/notices/"+n.ID+"/read", nil, nil); code != 404 {
		t.Errorf("bert marking anna's notice read: %d, want 404", code)
	}
	if code := api.call(anna, "GET", "/api/v1/me/notices?limit=0", nil, nil); code != 400 {
		t.Errorf("limit=0: %d, want 400", code)
	}

	if code := api.call(anna, "POST", "/api/v1/me/notices/"+n.ID+"/read", nil, nil); code != 204 {
		t.Fatalf("marking read: %d", code)
	}
	api.call(anna, "GET", "/api/v1/me/notices", nil, &list)
	if len(list.Items) != 1 || list.Items[0].ReadAt == nil {
		t.Fatalf("after marking read: %+v", list.Items)
	}
	first := *list.Items[0].ReadAt
	time.Sleep(2 * time.Millisecond)
	if code := api.call(anna, "POST", "/api/v1/me/notices/"+n.ID+"/read", nil, nil); code != 204 {
		t.Errorf("marking read again: %d", code)
	}
	api.call(anna, "GET", "/api/v1/me/notices", nil, &list)
	if *list.Items[0].ReadAt != first {
		t.Errorf("marking read again moved the time from %s to %s", first, *list.Items[0].ReadAt)
	}
	if code := api.call(anna, "POST", "/api/v1/me/notices/nonexistent/read", nil, nil); code != 404 {
		t.Errorf("an unknown notice: %d, want 404", code)
	}
}
