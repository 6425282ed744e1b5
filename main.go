// Command pulse is a self-hosted, real-time product-analytics pipeline.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pulse-analytics/pulse/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Execute(ctx, os.Args[1:], cmd.SystemStreams())
	stop()
	os.Exit(code)
}
