package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"kinwatch"
	"kinwatch/app"
)

func init() {
	register("watches", "list the watch registry, or one watch's recent positions, from the database", runWatches)
}

// runWatches is an operator's view of the registry, read straight from the database. It shows no
// personal data beyond what an operator already holds: device ids, connection state and, for one
// watch asked for by id, its recent positions.
func runWatches(ctx context.Context, args []string, stdio Stdio) error {
	var positions string
	var limit int
	// The watches command takes the server's configuration flags (to find the database) plus its own.
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "positions", "limit":
			if !hasVal {
				if i+1 >= len(args) {
					return usageErrorf("--%s needs a value", name)
				}
				i++
				val = args[i]
			}
			if name == "positions" {
				positions = val
			} else if _, err := fmt.Sscan(val, &limit); err != nil || limit < 1 {
				return usageErrorf("--limit %q: want a positive number", val)
			}
			continue
		}
		rest = append(rest, args[i])
	}
	if limit == 0 {
		limit = 20
	}
	cfg, err := loadConfig("watches", rest, stdio)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	if positions != "" {
		ps, err := st.Positions(ctx, kinwatch.PositionFilter{DeviceID: positions, Limit: limit})
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
