# The Makefile is the truth: CI runs `make test` (through .ci/run).
GO ?= go
PKGS := ./...
BIN := bin/kinwatch

.PHONY: run build test test-short lint bench fuzz clean

# make run: the server on SQLite in ./data with a demo family of simulated watches.
run: build
	$(BIN) serve --data-dir ./data --demo-watches 5

build:
	$(GO) build -o $(BIN) ./cmd/kinwatch

# PostgreSQL-backed tests run when 127.0.0.1:5432 is reachable, and must run when CI=true.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short:
	$(GO) test -count=1 -short $(PKGS)

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@sc=$$(command -v staticcheck || echo "$$($(GO) env GOPATH)/bin/staticcheck"); \
	if [ -x "$$sc" ]; then "$$sc" $(PKGS); else echo "staticcheck not installed (go install honnef.co/go/tools/cmd/staticcheck@v0.8.2); skipped"; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./watchproto
	$(GO) test -run '^$$' -fuzz FuzzFrame -fuzztime 60s ./watchproto
	$(GO) test -run '^$$' -fuzz FuzzParseCommand -fuzztime 60s ./watchproto

clean:
	rm -rf bin
