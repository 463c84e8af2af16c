package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kinwatch"
	"kinwatch/app"
	"kinwatch/config"
)

// TestImportCells: an OpenCellID file (plain or gzipped) is imported, malformed lines are skipped
// and counted, and importing a newer file updates the towers.
func TestImportCells(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var csv strings.Builder
	csv.WriteString("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n")
	for i := range 12000 {
		fmt.Fprintf(&csv, "LTE,262,1,%d,%d,0,13.%04d,52.%04d,1000,7,1,1459692000,1700000000,0\n", 100+i/1000, 500000+i, i%10000, i%10000)
	}
	csv.WriteString("GSM,262,1,not-a-number,1,0,13.4,52.5,1000,7,1,1,1,0\n") // malformed
	csv.WriteString("GSM,262,1,1,2,0,0,0,1000,7,1,1,1,0\n")                  // 0,0
	csv.WriteString("GSM,262,1\n")                                           // short
	plain := filepath.Join(dir, "cells.csv")
	if err := os.WriteFile(plain, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runIn(ctx, "", "geo", "import-cells", "--data-dir", dir, plain)
	if code != 0 || !strings.Contains(out, "12000 cell towers imported, 3 lines skipped") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	// A newer file, gzipped: one tower moved.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\nUMTS,262,1,100,500000,0,13.5,52.6,800,9,1,1459692000,1710000000,0\n"))
	zw.Close()
	packed := filepath.Join(dir, "update.csv.gz")
	os.WriteFile(packed, gz.Bytes(), 0o600)
	if code, out, errOut := runIn(ctx, "", "geo", "import-cells", "--data-dir", dir, packed); code != 0 || !strings.Contains(out, "1 cell towers imported") {
		t.Fatalf("update: %d %s %s", code, out, errOut)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := kinwatch.CellKey{MCC: 262, MNC: 1, LAC: 100, CID: 500000}
	k2 := kinwatch.CellKey{MCC: 262, MNC: 1, LAC: 111, CID: 511999}
	got, err := st.CellTowers(ctx, []kinwatch.CellKey{k, k2})
	if err != nil || got[k].Lat != 52.6 || got[k].Range != 800 || got[k2].Lat != 52.1999 {
		t.Fatalf("towers %+v %v", got, err)
	}
	if code, _, _ := runIn(ctx, "", "geo", "import-cells", "--data-dir", dir); code != 2 {
		t.Errorf("without a file: exit %d, want 2", code)
	}
}
