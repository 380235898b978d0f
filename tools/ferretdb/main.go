// Command ferretdb runs FerretDB 1.24 with its SQLite backend: the
// MongoDB-compatible server that `npm start` and the tests use when no
// MONGODB_URL is given (see shared/DESIGN.md, "Real components").
//
// It wraps FerretDB's embeddable package rather than building cmd/ferretdb,
// because a module download lacks the release files cmd/ferretdb insists on.
// It exits on SIGINT/SIGTERM, and when its standard input closes, so that a
// parent that dies without cleaning up never leaves it running.
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite backend directory URL (must end with /)")
	watchStdin := flag.Bool("exit-on-stdin-eof", false, "exit when standard input is closed")
	flag.Parse()

	// Error, not Warn: FerretDB logs every failed command (a duplicate key, an
	// unsupported endSessions on each client close) as a multi-line Warn dump,
	// and the client already receives those errors.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: *sqliteURL,
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if *watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}

	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
