// Command ferretdb runs FerretDB 1.24 with its SQLite backend: the
// MongoDB-compatible server that `npm start` and the tests use when no
// MONGODB_URL is given (see shared/DESIGN.md, "Real components").
//
// It wraps FerretDB's embeddable package rather than building cmd/ferretdb,
// because a module download lacks the release files cmd/ferretdb insists on.
// It exits on SIGINT/SIGTERM, and when its standard input closes, so that a
// parent that dies without cleaning up never leaves it running.
//
// Two settings make inserts cheaper (found with pprof; FerretDB's CPU per
// stored document fell by a quarter for ours, by a third for the bench's R1):
//   - SQLite keeps its statement journals in memory (temp_store), unless the
//     URL says otherwise. Every multi-row INSERT with a unique index opens
//     one, so that a duplicate key undoes that statement alone; in a temp
//     file it cost a write system call per page. It is never needed after a
//     crash: the WAL is what makes commits durable.
//   - Attributes given to a logger's With() are formatted only if a record
//     is written (lazyAttrs).
package main

import (
	"context"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
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
	logger := slog.New(lazyAttrs{inner: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})})

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: withTempStoreInMemory(*sqliteURL),
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

// withTempStoreInMemory adds the temp_store pragma to a SQLite URL that sets none.
func withTempStoreInMemory(url string) string {
	if strings.Contains(url, "temp_store") {
		return url
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "_pragma=temp_store(memory)"
}

// lazyAttrs keeps the attributes a logger is given With() until a record is
// written. slog's TextHandler formats them at once, and FerretDB gives every
// SQL statement's arguments (the whole documents of an insert) to With()
// before a Debug call that is then dropped: quoting them alone took about 8%
// of its CPU on inserts.
type lazyAttrs struct {
	inner slog.Handler
	attrs []slog.Attr
}

func (h lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

func (h lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	// a full slice expression: loggers derived from one logger never share an appended array
	return lazyAttrs{inner: h.inner, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)}
}

func (h lazyAttrs) WithGroup(name string) slog.Handler {
	return lazyAttrs{inner: h.materialize().WithGroup(name)}
}

func (h lazyAttrs) materialize() slog.Handler {
	if len(h.attrs) == 0 {
		return h.inner
	}
	return h.inner.WithAttrs(h.attrs)
}
