package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"kinwatch"
	"kinwatch/account"
	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/envelope"
	"kinwatch/notice"
)

func init() {
	register("admin", "operators' tasks: create operators, list/disable/enable accounts, list pending watches, notices to users", runAdmin)
}

const adminUsage = `usage: kinwatch admin <task> [flags]

Tasks:
  create-operator --email E --nickname N   create an operator account (password read from stdin,
                                           or generated and printed when stdin is a terminal/empty)
  accounts [--query Q] [--limit N]         list accounts (id, email, phone, nickname, flags)
  disable --account ID                     disable an account and end its sessions
  enable --account ID                      enable a disabled account
  pending [--limit N]                      list watches that connected but nobody bound
  master-key-rotate                        stage a new master key in the key file (it unwraps but
                                           does not wrap yet); restart every process with the file
  master-key-activate [--key ID]           make the staged key current and re-wrap every data key
                                           with it; restart every process with the file
  master-key-retire                        re-wrap what was made meanwhile and drop the old keys
  warm-history [--days N]                  fill the history's day cache with the last N complete
                                           days (default 400) of every bound watch, so that long
                                           history views are fast from the first (once, after
                                           upgrading; the server caches the days just completed
                                           every night)

Notices to users (recorded, shown in the app at once under GET /api/v1/me/notices, and mailed by
the command itself; a mail that fails is retried by the running server every minute). They are
not pushed: Web Push carries the watches' alarms only. Write notices without personal data:
they are kept after the accounts they reached are gone.
  notify-incident --title T --happened TEXT --done TEXT --you-can TEXT [--accounts ID,ID]
                                           tell the accounts a security incident affects (default:
                                           everyone) what happened, what was done and what they
                                           can do
  cease-operations --at DATE [--text TEXT] tell everyone the server closes and every account is
                                           deleted from DATE (YYYY-MM-DD, UTC)
  cease-operations --execute               after DATE: cancel every account with everything only it
                                           holds, unbind the watches, delete their files
  publish-policy                           tell everyone the privacy policy changed to the
                                           configured --policy-version (at --policy-url); new
                                           purposes stay off until each user consents

Every task also takes the server's configuration flags (--data-dir, --database-url, …).`

// runAdmin works on the database directly, like migrate: it needs no running server.
func runAdmin(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdio.Err, adminUsage)
		if len(args) == 0 {
			return usageErrorf("a task is required")
		}
		return flag.ErrHelp
	}
	task, args := args[0], args[1:]
	fs := newFlagSet("admin "+task, stdio)
	email := fs.String("email", "", "operator's email address")
	nickname := fs.String("nickname", "Operator", "operator's display name")
	query := fs.String("query", "", "show accounts whose email, phone or nickname contains this")
	accountID := fs.String("account", "", "account `id`")
	keyID := fs.String("key", "", "master-key-activate: the `id` of the key to make current (default: the one staged last)")
	limit := fs.Int("limit", 100, "most rows to list")
	days := fs.Int("days", 400, "warm-history: how many complete days to cache, back from today")
	var nf noticeFlags
	fs.StringVar(&nf.title, "title", "", "notify-incident: the notice's title (one line, the mail's subject)")
	fs.StringVar(&nf.happened, "happened", "", "notify-incident: what happened, and what it may mean for users")
	fs.StringVar(&nf.done, "done", "", "notify-incident: what was done about it, or will be")
	fs.StringVar(&nf.youCan, "you-can", "", "notify-incident: what users can do to protect themselves")
	fs.StringVar(&nf.accounts, "accounts", "", "notify-incident: the affected accounts, comma-separated `ids` (default: everyone)")
	fs.StringVar(&nf.at, "at", "", "cease-operations: the `date` (YYYY-MM-DD, UTC, or an RFC 3339 time) from which every account is deleted")
	fs.StringVar(&nf.text, "text", "", "cease-operations: the operator's own words, added to the notice")
	fs.BoolVar(&nf.execute, "execute", false, "cease-operations: the notice period is over; cancel every account now")
	fs.StringVar(&nf.by, "by", "operator", "notices: who publishes, recorded with the notice (a role rather than a person's name)")
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("configuration: %w", err)
	}
	if *limit < 1 || *limit > 100000 {
		return usageErrorf("--limit %d: want 1..100000", *limit)
	}
	if *days < 1 || *days > 10000 {
		return usageErrorf("--days %d: want 1..10000", *days)
	}
	switch task {
	case "master-key-rotate":
		// Step 1 only stages the new key: processes still running with the old file go on
		// unwrapping every data key, and each process learns the new key when restarted with it.
		path := app.MasterKeyPath(cfg)
		m, err := envelope.LoadMasterFile(path)
		if err != nil {
			return err
		}
		staged := m.WithStagedKey()
		if err := envelope.ReplaceMasterFile(path, staged); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "master key file %s: key %s staged, %s still current\n"+
			"Restart every kinwatch process of this deployment with this file, then run master-key-activate.\n", path, staged.LastID(), staged.CurrentID())
		return nil
	case "master-key-activate":
		// Step 2: the staged key becomes current and wraps every data key. Processes running
		// with the staged file know both keys, so they read on without interruption.
		path := app.MasterKeyPath(cfg)
		m, err := envelope.LoadMasterFile(path)
		if err != nil {
			return err
		}
		id := *keyID
		if id == "" {
			id = m.LastID()
		}
		promoted, err := m.Promote(id)
		if err != nil {
			return usageErrorf("--key: %v", err)
		}
		if err := envelope.ReplaceMasterFile(path, promoted); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "master key file %s: %s is now current\n", path, promoted.CurrentID())
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	switch task {
	case "create-operator":
		return createOperator(ctx, st, *email, *nickname, stdio)
	case "accounts":
		as, err := st.Accounts(ctx, kinwatch.AccountFilter{Query: *query, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACCOUNT\tEMAIL\tPHONE\tNICKNAME\tVERIFIED\tOPERATOR\tDISABLED\tCREATED (UTC)")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\t%v\t%s\n", a.ID, orDash(a.Email), orDash(a.Phone), a.Profile.Nickname,
				!a.EmailVerifiedAt.IsZero(), a.Operator, a.Disabled, a.CreatedAt.UTC().Format(time.DateTime))
		}
		return tw.Flush()
	case "disable", "enable":
		if *accountID == "" {
			return usageErrorf("--account is required")
		}
		a, err := st.Account(ctx, *accountID)
		if err != nil {
			return err
		}
		a.Disabled, a.UpdatedAt = task == "disable", time.Now().UTC()
		if err := st.UpdateAccount(ctx, a); err != nil {
			return err
		}
		if a.Disabled {
			n, err := st.DeleteSessions(ctx, a.ID, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s disabled, %d sessions ended\n", a.ID, n)
			return nil
		}
		fmt.Fprintf(stdio.Out, "%s enabled\n", a.ID)
		return nil
	case "master-key-activate", "master-key-retire":
		n, err := st.RewrapKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "%d data keys re-wrapped with master key %s\n", n, st.Keys().Master().CurrentID())
		if task == "master-key-activate" {
			fmt.Fprintln(stdio.Out, "Restart every kinwatch process of this deployment with this file, then run master-key-retire.")
			return nil
		}
		path := app.MasterKeyPath(cfg)
		if err := envelope.ReplaceMasterFile(path, st.Keys().Master().CurrentOnly()); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "master key file %s now holds only %s\n", path, st.Keys().Master().CurrentID())
		return nil
	case "notify-incident", "cease-operations", "publish-policy":
		return runNotice(ctx, task, st, cfg, nf, stdio)
	case "warm-history":
		failed := 0
		n, err := kinwatch.WarmTrackDays(ctx, st, time.Now(), time.Duration(*days)*24*time.Hour, 0, func(deviceID string, err error) {
			failed++
			fmt.Fprintf(stdio.Err, "watch %s: %v\n", deviceID, err)
		})
		fmt.Fprintf(stdio.Out, "history of %d watches cached (%d complete days back), %d failed\n", n, *days, failed)
		if err == nil && failed > 0 {
			err = fmt.Errorf("%d watches failed", failed)
		}
		return err
	case "pending":
		ds, err := st.Devices(ctx, kinwatch.DeviceFilter{State: kinwatch.DevicePending, Limit: *limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE\tONLINE\tFIRST SEEN (UTC)\tLAST SEEN (UTC)\tFIRMWARE")
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", d.ID, d.Online, d.FirstSeen.UTC().Format(time.DateTime),
				d.LastSeen.UTC().Format(time.DateTime), orDash(d.Firmware))
		}
		return tw.Flush()
	default:
		fmt.Fprintln(stdio.Err, adminUsage)
		return usageErrorf("unknown task %q", task)
	}
}

func createOperator(ctx context.Context, st kinwatch.Store, email, nickname string, stdio Stdio) error {
	email, err := account.NormalizeEmail(email)
	if err != nil {
		return err
	}
	if email == "" {
		return usageErrorf("--email is required")
	}
	password, generated := "", false
	if stdio.In != nil {
		line, _ := bufio.NewReader(stdio.In).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		b := make([]byte, 18)
		rand.Read(b)
		password, generated = base64.RawURLEncoding.EncodeToString(b), true
	}
	if err := (&account.PasswordChecker{}).Check(ctx, password, email, nickname); err != nil {
		return err
	}
	hash, err := account.HashPassword(password, account.DefaultArgon2)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := &kinwatch.Account{
		ID: kinwatch.NewID(), Email: email, EmailVerifiedAt: now, PasswordHash: hash, Operator: true,
		Profile: kinwatch.Profile{Nickname: nickname}, Preferences: account.DefaultPreferences,
		CreatedAt: now, UpdatedAt: now,
	}
	if err := (account.ProfilePatch{}).Apply(a, now); err != nil {
		return err
	}
	if err := st.CreateAccount(ctx, a); err != nil {
		if kinwatch.ErrorCode(err) == kinwatch.ECONFLICT {
			return fmt.Errorf("an account with %s exists already", email)
		}
		return err
	}
	fmt.Fprintf(stdio.Out, "operator %s created (%s)\n", a.ID, email)
	if generated {
		fmt.Fprintf(stdio.Out, "password: %s\n(shown once: store it in your password manager)\n", password)
	}
	return nil
}

// noticeFlags are the flags of the notice tasks.
type noticeFlags struct {
	title, happened, done, youCan, accounts string
	at, text                                string
	execute                                 bool
	by                                      string
}

// runNotice publishes a notice (or carries out ceasing operations) and mails what is queued, with
// the server's own mail settings.
func runNotice(ctx context.Context, task string, st kinwatch.Store, cfg config.Config, nf noticeFlags, stdio Stdio) error {
	svc := &notice.Service{Store: st, Mailer: app.NewMailer(cfg), BaseURL: cfg.PublicURL, By: nf.by, Log: newLogger(cfg, stdio)}
	var (
		n   *kinwatch.Notice
		err error
	)
	switch task {
	case "notify-incident":
		in := notice.Incident{Title: nf.title, WhatHappened: nf.happened, WhatWeDid: nf.done, WhatYouCanDo: nf.youCan}
		if nf.accounts != "" {
			for _, id := range strings.Split(nf.accounts, ",") {
				if id = strings.TrimSpace(id); id != "" {
					in.Accounts = append(in.Accounts, id)
				}
			}
			if len(in.Accounts) == 0 {
				return usageErrorf("--accounts names no account; leave it out to tell everyone")
			}
		}
		if n, err = svc.NotifyIncident(ctx, in); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "incident notice %s recorded for %d accounts (%s), shown in their app\n", n.ID, n.Recipients, audience(n))
	case "cease-operations":
		switch {
		case nf.execute && nf.at != "":
			return usageErrorf("--at publishes the notice, --execute carries it out later: give one")
		case nf.execute:
			// Only carrying it out deletes files: the accounts' pictures, media and exports.
			if svc.Blobs, err = app.OpenBlobs(cfg); err != nil {
				return err
			}
			c, err := svc.ExecuteCeaseOperations(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "notice %s carried out: %d accounts cancelled, %d families deleted, %d watches unbound, %d files deleted",
				c.Notice.ID, c.Accounts, c.FamiliesDeleted, c.WatchesUnbound, c.Blobs)
			if c.BlobsFailed > 0 {
				fmt.Fprintf(stdio.Out, " (%d could not be deleted: see the log; their keys are destroyed, so they no longer open)", c.BlobsFailed)
			}
			fmt.Fprintln(stdio.Out)
			return nil
		case nf.at == "":
			return usageErrorf("--at DATE (publish the notice) or --execute (after that date) is required")
		}
		at, err := time.Parse(time.DateOnly, nf.at)
		if err != nil {
			if at, err = time.Parse(time.RFC3339, nf.at); err != nil {
				return usageErrorf("--at %q: a date such as 2027-01-31 or an RFC 3339 time", nf.at)
			}
		}
		if n, err = svc.CeaseOperations(ctx, at, nf.text); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "cease-operations notice %s recorded for %d accounts: every account is deleted from %s\n"+
			"After that, run: kinwatch admin cease-operations --execute\n", n.ID, n.Recipients, n.EffectiveAt.Format(time.RFC3339))
	case "publish-policy":
		url := cfg.PolicyURL
		if strings.HasPrefix(url, "/") {
			// The default is served by kinwatch itself: mail needs the whole address.
			url = strings.TrimRight(cfg.PublicURL, "/") + url
		}
		if n, err = svc.PublishPolicy(ctx, cfg.PolicyVersion, url); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "policy notice %s (version %s, %s) recorded for %d accounts\n", n.ID, cfg.PolicyVersion, url, n.Recipients)
	}
	sent, failed, err := svc.DeliverEmail(ctx)
	fmt.Fprintf(stdio.Out, "mail: %d sent, %d failed (accounts without an email address see it in the app only); not pushed (Web Push carries alarms only)\n", sent, failed)
	if err != nil || failed > 0 {
		// The notice is recorded: what was not mailed waits for the next delivery, not for this
		// command to be run again (which would publish a second notice).
		fmt.Fprintf(stdio.Err, "not every mail went out (%v): the running server retries them every minute\n", orNone(err))
	}
	return nil
}

func audience(n *kinwatch.Notice) string {
	if n.Audience == kinwatch.AudienceAll {
		return "everyone"
	}
	return "the accounts named"
}

func orNone(err error) string {
	if err == nil {
		return "see the log"
	}
	return err.Error()
}
