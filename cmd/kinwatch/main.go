// Command kinwatch is the whole server and its tools in one binary; see `kinwatch help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"kinwatch/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
