package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/audit"
	"kinwatch/config"
	"kinwatch/gateway"
)

func init() {
	register("watches", "list the watch registry, or one watch's recent positions, from the database", runWatches)
}

// runWatches is an operator's view of the registry, read straight from the database. It shows no
// personal data beyond what an operator already holds: device ids and connection state. A bound
// watch's recent positions are a child's data: staff open them only with a stated reason, and the
// access is recorded in the family's access log, which the family sees. It also maintains the
// allow-list: with --allow-unknown=false the gateway serves only watches already in the registry.
func runWatches(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet("watches", stdio)
	positions := fs.String("positions", "", "show the recent positions of the watch with this `id`")
	limit := fs.Int("limit", 20, "how many positions to show")
	reason := fs.String("reason", "", "with --positions: why you open this child's data (the family sees it in its access log)")
	operator := fs.String("operator", "", "with --positions: your name or account, recorded with the reason")
	add := fs.String("add", "", "register these comma-separated watch `ids` as pending (the allow-list)")
	block := fs.String("block", "", "block these comma-separated watch `ids`: the gateway refuses them")
	unblock := fs.String("unblock", "", "unblock these comma-separated watch `ids` (they become pending)")
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("configuration: %w", err)
	}
	if *limit < 1 {
		return usageErrorf("--limit %d: want a positive number", *limit)
	}
	var ids [3][]string
	for k, list := range []string{*add, *block, *unblock} {
		for _, id := range strings.Split(list, ",") {
			if id = strings.TrimSpace(id); id == "" {
				continue
			}
			if !gateway.ValidDeviceID(id) {
				return usageErrorf("watch id %q: want 1-32 letters or digits", id)
			}
			ids[k] = append(ids[k], id)
		}
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if len(ids[0])+len(ids[1])+len(ids[2]) > 0 {
		return changeRegistry(ctx, st, ids[0], ids[1], ids[2], stdio)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if *positions != "" {
		if _, err := (&audit.Service{Store: st}).Staff(ctx, *positions, *operator, *reason, kinwatch.AccessLocationHistory); err != nil {
			if kinwatch.ErrorCode(err) == kinwatch.EINVALID {
				return usageErrorf("--positions: %v (use --reason and --operator)", kinwatch.ErrorMessage(err))
			}
			return err
		}
		ps, err := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: *positions, Limit: *limit})
		if err != nil {
			return err
		}
		fmt.Fprintln(tw, "TIME (UTC)\tTYPE\tSOURCE\tLAT\tLON\tSPEED\tBATTERY\tCELLS\tWIFI\tALARMS")
		for _, p := range ps {
			lat, lon := "-", "-"
			if p.HasCoords {
				lat, lon = fmt.Sprintf("%.6f", p.Lat), fmt.Sprintf("%.6f", p.Lon)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%d%%\t%d\t%d\t%s\n", p.Time.UTC().Format(time.DateTime), p.Type,
				orDash(p.Source), lat, lon, p.Speed, p.Battery, len(p.Cells), len(p.WiFi), orDash(strings.Join(p.Alarms.Names(), ",")))
		}
		return nil
	}
	ds, err := st.Devices(ctx, kinwatch.DeviceFilter{Limit: 10000})
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "DEVICE\tSTATE\tONLINE\tLAST SEEN (UTC)\tBATTERY\tSIGNAL\tSTEPS\tFIRMWARE")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\t%d\t%s\n", d.ID, d.State, d.Online, d.LastSeen.UTC().Format(time.DateTime),
			pct(d.Battery), pct(d.Signal), d.Steps, orDash(d.Firmware))
	}
	return nil
}

// changeRegistry adds, blocks and unblocks watches. Blocking and unblocking need the watch in the
// registry already, so a typo is reported instead of creating a stray entry.
func changeRegistry(ctx context.Context, st kinwatch.Store, add, block, unblock []string, stdio Stdio) error {
	now := time.Now()
	for _, id := range add {
		if _, err := st.Device(ctx, id); err == nil {
			fmt.Fprintf(stdio.Out, "%s is already registered\n", id)
			continue
		}
		if err := st.WriteBatch(ctx, []kinwatch.Record{{Device: &kinwatch.DeviceUpdate{ID: id, Time: now}}}); err != nil {
			return err
		}
		fmt.Fprintf(stdio.Out, "%s registered (pending)\n", id)
	}
	for _, change := range []struct {
		ids   []string
		state kinwatch.DeviceState
	}{{block, kinwatch.DeviceBlocked}, {unblock, kinwatch.DevicePending}} {
		for _, id := range change.ids {
			if _, err := st.Device(ctx, id); err != nil {
				return fmt.Errorf("watch %s: %w", id, err)
			}
			if err := st.SetDeviceState(ctx, id, change.state); err != nil {
				return err
			}
			fmt.Fprintf(stdio.Out, "%s is now %s\n", id, change.state)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pct(v int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%d%%", v)
}
