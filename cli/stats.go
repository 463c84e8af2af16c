package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
	"kinwatch/deident"
)

func init() {
	register("stats", "de-identified fleet statistics for the operator: groups of fewer than --k watches are withheld", runStats)
}

// runStats shows the operator what the fleet is made of without showing anyone: each watch is
// counted under a keyed pseudonym (a secret made for this run, so its codes link to nothing), and
// a group is shown only when at least k watches are in it; smaller groups are pooled, or withheld
// when even the pool is smaller than k. No total is printed, so withheld groups cannot be
// recovered by subtraction.
func runStats(ctx context.Context, args []string, stdio Stdio) error {
	fs := newFlagSet("stats", stdio)
	k := fs.Int("k", 5, "smallest group shown (k-anonymity), at least 2")
	cfg, err := config.Load(fs, args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("configuration: %w", err)
	}
	if *k < deident.MinK {
		return usageErrorf("--k %d: want at least %d", *k, deident.MinK)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	pseudo, err := deident.NewPseudonymizer(secret, 24*time.Hour)
	if err != nil {
		return err
	}
	firmware, _ := deident.NewAggregator(*k)
	battery, _ := deident.NewAggregator(*k)
	after := ""
	for {
		ds, err := st.Devices(ctx, kinwatch.DeviceFilter{State: kinwatch.DeviceBound, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, d := range ds {
			who := pseudo.Pseudonym("watch", d.ID)
			firmware.Add(orDash(d.Firmware), who, 1)
			if d.Battery >= 0 {
				battery.Add(batteryBand(d.Battery), who, float64(d.Battery))
			}
		}
		if len(ds) < 1000 {
			break
		}
		after = ds[len(ds)-1].ID
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	for _, t := range []struct {
		title string
		agg   *deident.Aggregator
	}{{"FIRMWARE", firmware}, {"BATTERY", battery}} {
		rel := t.agg.Release()
		fmt.Fprintf(tw, "%s\tWATCHES\n", t.title)
		for _, r := range rel.Rows {
			fmt.Fprintf(tw, "%s\t%d\n", r.Group, r.Subjects)
		}
		if rel.Other != nil {
			fmt.Fprintf(tw, "(%d smaller groups)\t%d\n", rel.Suppressed, rel.Other.Subjects)
		} else if rel.Suppressed > 0 {
			fmt.Fprintf(tw, "(%d groups of fewer than %d withheld)\t-\n", rel.Suppressed, *k)
		}
		fmt.Fprintln(tw, "\t")
	}
	return nil
}

func batteryBand(pct int) string {
	switch {
	case pct < 20:
		return "battery 0-19%"
	case pct < 50:
		return "battery 20-49%"
	case pct < 80:
		return "battery 50-79%"
	}
	return "battery 80-100%"
}
