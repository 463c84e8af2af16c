package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"kinwatch/cli"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestDecodeGolden runs `kinwatch decode` over each testdata/decode/*.in and compares stdout with the
// .golden beside it: the output is a public contract, so any change to it must show in a diff.
func TestDecodeGolden(t *testing.T) {
	args := map[string][]string{
		"hex":      {"--hex"},
		"toolarge": {"--max", "64"},
	}
	ins, err := filepath.Glob(filepath.Join("testdata", "decode", "*.in"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			code := cli.Main(context.Background(), append([]string{"decode"}, args[name]...), bytes.NewReader(input), &out, &errOut)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errOut.String())
			}
			for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				var obj map[string]any
				if err := json.Unmarshal([]byte(line), &obj); err != nil {
					t.Errorf("line %d is not one JSON object: %v", i+1, err)
				}
			}
			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *updateGolden {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cli -run TestDecodeGolden -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s:\n%s", golden, lineDiff(string(want), out.String()))
			}
		})
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + "\n- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}

// TestDecodeContract pins the keys and values that matter most, independently of the golden files.
func TestDecodeContract(t *testing.T) {
	in := "[ZJ*689466020014198*0003*0113*AL,221121,085515,V,00.000000,N,000.000000,E,0,0,0,0,0,44,0,0,00100000,1,255,460,0,16399,234887445,0,1,WIFI00,68:77:24:1b:e7:a7,-59]" +
		"[SG*9059011020*006b*UD2,240123,162011,A,54.427621,N,6.409190,W,0.00,0,0,8,19,88,0,0,00000000,1,1,FFFF,FFFF,FFFE,3B882A2,132,,00]"
	var out bytes.Buffer
	if code := cli.Main(context.Background(), []string{"decode"}, strings.NewReader(in), &out, &bytes.Buffer{}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), out.String())
	}
	var al, ud map[string]any
	json.Unmarshal([]byte(lines[0]), &al)
	json.Unmarshal([]byte(lines[1]), &ud)
	for k, want := range map[string]any{"manufacturer": "ZJ", "device": "689466020014198", "index": "0003", "type": "AL",
		"time": "2021-11-22T08:55:15Z", "valid": false, "battery": 44.0, "status": "00100000",
		"reply": "[ZJ*689466020014198*0003*0002*AL]"} {
		if al[k] != want {
			t.Errorf("AL %s = %v, want %v", k, al[k], want)
		}
	}
	if _, ok := al["lat"]; ok {
		t.Errorf("a 0/0 V fix must not print coordinates: %s", lines[0])
	}
	if got, _ := json.Marshal(al["alarms"]); string(got) != `["removed"]` {
		t.Errorf("alarms %s", got)
	}
	if got, _ := json.Marshal(al["cells"]); string(got) != `[{"cid":234887445,"lac":16399,"mcc":460,"mnc":0,"rssi":0}]` {
		t.Errorf("cells %s", got)
	}
	if got, _ := json.Marshal(al["wifi"]); string(got) != `[{"mac":"68:77:24:1b:e7:a7","rssi":-59,"ssid":"WIFI00"}]` {
		t.Errorf("wifi %s", got)
	}
	if ud["lat"] != 54.427621 || ud["lon"] != -6.40919 || ud["valid"] != true {
		t.Errorf("UD2 position %v %v %v", ud["lat"], ud["lon"], ud["valid"])
	}
	if got, _ := json.Marshal(ud["cells"]); string(got) != `[{"cid":62423714,"lac":65534,"mcc":65535,"mnc":65535,"rssi":132}]` {
		t.Errorf("hex cells %s", got)
	}
}

func TestDecodeBadHex(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), []string{"decode", "--hex"}, strings.NewReader("5b33 47zz"), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "not hex") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	code = cli.Main(context.Background(), []string{"decode", "--hex"}, strings.NewReader("5b3"), &out, &errOut)
	if code != 1 {
		t.Errorf("odd digit count: exit %d", code)
	}
	if code := cli.Main(context.Background(), []string{"decode", "extra"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("stray argument: exit %d", code)
	}
}
