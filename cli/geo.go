package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
)

func init() {
	register("geo", "the local geolocation database: import-cells FILE[.csv|.csv.gz] (OpenCellID format)", runGeo)
}

const geoUsage = `usage: kinwatch geo import-cells [flags] FILE[.csv|.csv.gz]

Imports cell towers in the OpenCellID CSV format (radio,mcc,net,area,cell,unit,lon,lat,range,
samples,changeable,created,updated,averageSignal), streaming, in batches; running it again with a
newer file updates the towers. Malformed lines are skipped and counted.`

// importBatch is how many towers one transaction writes: large enough to amortise the commit,
// small enough not to hold the database from the watches' writer for long.
const importBatch = 5000

func runGeo(ctx context.Context, args []string, stdio Stdio) error {
	if len(args) == 0 || args[0] != "import-cells" {
		fmt.Fprintln(stdio.Err, geoUsage)
		return usageErrorf("a task is required: import-cells")
	}
	fs := newFlagSet("geo import-cells", stdio)
	cfg, err := config.Load(fs, args[1:], os.Getenv)
	var files []string
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		if fs.NArg() == 0 {
			return fmt.Errorf("configuration: %w", err)
		}
		files = fs.Args()
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	if len(files) != 1 {
		fmt.Fprintln(stdio.Err, geoUsage)
		return usageErrorf("one file is required")
	}
	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(files[0], ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", files[0], err)
		}
		defer gz.Close()
		r = gz
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, skipped, err := importCells(ctx, st, r)
	fmt.Fprintf(stdio.Out, "%d cell towers imported, %d lines skipped, in %s\n", n, skipped, time.Since(start).Round(time.Millisecond))
	return err
}

// importCells streams OpenCellID rows into the store in batches.
func importCells(ctx context.Context, st kinwatch.Store, r io.Reader) (imported, skipped int, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	batch := make([]kinwatch.CellTower, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.PutCellTowers(ctx, batch); err != nil {
			return err
		}
		imported += len(batch)
		batch = batch[:0]
		return nil
	}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				skipped++
				continue
			}
			return imported, skipped, err
		}
		if line == 1 && len(rec) > 0 && rec[0] == "radio" {
			continue // the header
		}
		t, ok := parseTower(rec)
		if !ok {
			skipped++
			continue
		}
		batch = append(batch, t)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return imported, skipped, err
			}
		}
	}
	return imported, skipped, flush()
}

// parseTower reads one OpenCellID row; false for a malformed one.
func parseTower(rec []string) (kinwatch.CellTower, bool) {
	if len(rec) < 13 {
		return kinwatch.CellTower{}, false
	}
	mcc, e1 := strconv.Atoi(rec[1])
	mnc, e2 := strconv.Atoi(rec[2])
	lac, e3 := strconv.ParseInt(rec[3], 10, 64)
	cid, e4 := strconv.ParseInt(rec[4], 10, 64)
	lon, e5 := strconv.ParseFloat(rec[6], 64)
	lat, e6 := strconv.ParseFloat(rec[7], 64)
	rng, e7 := strconv.ParseFloat(rec[8], 64)
	samples, e8 := strconv.Atoi(rec[9])
	updated, e9 := strconv.ParseInt(rec[12], 10, 64)
	if err := errors.Join(e1, e2, e3, e4, e5, e6, e7, e8, e9); err != nil {
		return kinwatch.CellTower{}, false
	}
	if mcc < 100 || mcc > 999 || mnc < 0 || mnc > 999 || lac < 0 || cid < 0 || lat < -90 || lat > 90 || lon < -180 || lon > 180 || rng < 0 || (lat == 0 && lon == 0) {
		return kinwatch.CellTower{}, false
	}
	return kinwatch.CellTower{CellKey: kinwatch.CellKey{MCC: mcc, MNC: mnc, LAC: lac, CID: cid}, Lat: lat, Lon: lon,
		Range: rng, Samples: samples, Source: kinwatch.TowerImported, UpdatedAt: time.Unix(updated, 0).UTC()}, true
}
