package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"kinwatch"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"kinwatch/app"
	"kinwatch/audit"
	"kinwatch/commands"
	"kinwatch/config"
	"kinwatch/ingest"
	"kinwatch/inproc"
	"kinwatch/watchproto"
)

func init() {
	register("command", "queue a command for a watch, list a watch's commands, or show the command catalog", runCommand)
}

// runCommand is the operator's way to reach a watch until the API exists, and a debugging tool
// after. A command queued here is delivered by the server holding the watch's connection at the
// watch's next heartbeat (this process cannot wake it directly).
func runCommand(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet("command", stdio)
	device := fs.String("device", "", "the watch `id`")
	list := fs.Bool("list", false, "list the watch's recent commands and their states")
	catalog := fs.Bool("catalog", false, "list every command with its parameters example")
	reason := fs.String("reason", "", "for a watch a family holds: why you send it (the family sees it in its access log)")
	operator := fs.String("operator", "", "for a watch a family holds: your name or account, recorded with the reason")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "Usage: kinwatch command --device ID NAME ['{json params}']\n       kinwatch command --device ID --list\n       kinwatch command --catalog")
		fs.PrintDefaults()
	}
	cfg, err := config.Load(fs, args, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	// config.Load refuses positional arguments; the command name and its parameters are ours.
	var rest []string
	if err != nil {
		if fs.NArg() == 0 {
			return fmt.Errorf("configuration: %w", err)
		}
		rest = fs.Args()
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	if *catalog {
		tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKEYWORD\tWHAT IT DOES\tEXAMPLE PARAMS")
		for _, c := range watchproto.CommandCatalog() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Keyword, c.Summary, c.Example)
		}
		return tw.Flush()
	}
	if *device == "" {
		return usageErrorf("--device is required")
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if *list {
		cmds, err := st.Commands(ctx, *device, 0, 50)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEYWORD\tSTATE\tCREATED (UTC)\tATTEMPTS\tREPLY / ERROR")
		for _, c := range cmds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", c.ID, c.Keyword, c.State, c.CreatedAt.UTC().Format(time.DateTime), c.Attempts, orDash(c.Reply+c.Error))
		}
		return tw.Flush()
	}
	if len(rest) == 0 || len(rest) > 2 {
		return usageErrorf("want a command name and optionally its JSON parameters (see --catalog)")
	}
	params := []byte("{}")
	if len(rest) == 2 {
		params = []byte(rest[1])
	}
	cmd, err := watchproto.ParseCommand(rest[0], params)
	if err != nil {
		return usageErrorf("%v", err)
	}
	// The queued event travels the same bus and writer as the server's records.
	bus := inproc.New(16)
	w := &ingest.Writer{Store: st, Bus: bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBatch: 16, MaxWait: time.Millisecond, Retries: 2}
	done := make(chan error, 1)
	go func() { done <- w.Run(context.WithoutCancel(ctx)) }()
	svc := &commands.Service{Store: st, Bus: bus, TTL: cfg.CommandTTL, Transparency: cfg.TransparencyNotice}
	var req commands.Request
	if d, err := st.Device(ctx, *device); err == nil && d.FamilyID != "" {
		// A child wears it: staff act on it only with a reason the family sees, under the same
		// rules as its guardians (the child's notice, the contacts consent).
		if _, err := (&audit.Service{Store: st}).Staff(ctx, *device, *operator, *reason, "command "+cmd.Keyword()); err != nil {
			bus.Close()
			<-done
			if kinwatch.ErrorCode(err) == kinwatch.EINVALID {
				return usageErrorf("%v (a family holds this watch: use --reason and --operator)", kinwatch.ErrorMessage(err))
			}
			return err
		}
		req.AccountID = "staff:" + *operator
	}
	c, _, sendErr := svc.SendFor(ctx, *device, cmd, req)
	bus.Close()
	if err := <-done; err != nil && sendErr == nil {
		sendErr = err
	}
	if sendErr != nil {
		return sendErr
	}
	fmt.Fprintf(stdio.Out, "queued %s (%s); the watch gets it at its next heartbeat. Follow it with: kinwatch command --device %s --list\n", c.ID, c.Keyword, *device)
	return nil
}
