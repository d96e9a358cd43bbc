// ferretdb-runner: FerretDB v1.24.2 started through its embeddable package.
//
// Why not `go install .../cmd/ferretdb@v1.24.2`: a binary built that way
// panics at start ("Invalid build/version/version.txt"), because the
// module's generated version files are not part of the module download.
// The embeddable package skips that check, so the harness builds this small
// main instead. Flags mirror the ferretdb command's names.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	handler := flag.String("handler", "sqlite", "backend handler: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite URI (directory) for the sqlite handler")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL for the postgresql handler")
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	version := flag.Bool("version", false, "print the version and exit")
	// Accepted for command-line compatibility with the ferretdb binary;
	// the embedded server has no telemetry, state dir or debug listener.
	_ = flag.String("state-dir", "", "ignored (embedded FerretDB keeps no state dir)")
	_ = flag.String("telemetry", "disable", "ignored (always disabled)")
	_ = flag.String("debug-addr", "-", "ignored (no debug listener)")
	flag.Parse()

	if *version {
		fmt.Println("ferretdb-runner (FerretDB v1.24.2 embedded)")
		return
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-runner: bad --log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-runner: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "ferretdb-runner: listening on %s (handler %s)\n", *listen, *handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "ferretdb-runner: %v\n", err)
		os.Exit(1)
	}
}
