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
)

func init() {
	register("admin", "operators' account tasks: create operators, list/disable/enable accounts, list pending watches", runAdmin)
}

const adminUsage = `usage: kinwatch admin <task> [flags]

Tasks:
  create-operator --email E --nickname N   create an operator account (password read from stdin,
                                           or generated and printed when stdin is a terminal/empty)
  accounts [--query Q] [--limit N]         list accounts (id, email, phone, nickname, flags)
  disable --account ID                     disable an account and end its sessions
  enable --account ID                      enable a disabled account
  pending [--limit N]                      list watches that connected but nobody bound
  master-key-rotate                        put a new master key in front of the key file and
                                           re-wrap every family's data key with it; the old key
                                           stays in the file until master-key-retire
  master-key-retire                        once every process runs with the rotated file: re-wrap
                                           what was made meanwhile and drop the old keys

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
	limit := fs.Int("limit", 100, "most rows to list")
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
	if task == "master-key-rotate" {
		// The new key goes into the file first: if re-wrapping fails, the file still unwraps
		// every key (old and new are both in it), and running the task again finishes the job.
		path := app.MasterKeyPath(cfg)
		m, err := envelope.LoadMasterFile(path)
		if err != nil {
			return err
		}
		rotated, err := m.WithNewKey()
		if err != nil {
			return err
		}
		if err := envelope.ReplaceMasterFile(path, rotated); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "master key file %s: new current key %s\n", path, rotated.CurrentID())
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
	case "master-key-rotate", "master-key-retire":
		n, err := st.RewrapKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "%d data keys re-wrapped with master key %s\n", n, st.Keys().Master().CurrentID())
		if task == "master-key-rotate" {
			fmt.Fprintln(stdio.Out, "Restart every kinwatch process of this deployment with the new file, then run master-key-retire.")
			return nil
		}
		path := app.MasterKeyPath(cfg)
		if err := envelope.ReplaceMasterFile(path, st.Keys().Master().CurrentOnly()); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "master key file %s now holds only %s\n", path, st.Keys().Master().CurrentID())
		return nil
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
