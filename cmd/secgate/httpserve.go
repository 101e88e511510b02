package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// listen binds addr for the HTTP server named name (in errors): binding
// first, before anything starts, makes a taken port an error at start.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s: %w", name, addr, err)
	}
	return ln, nil
}

// serveHTTP serves h on addr until ctx is done, then shuts down within 5 s.
// name says what is served, in errors.
func serveHTTP(ctx context.Context, name, addr string, h http.Handler) error {
	ln, err := listen(name, addr)
	if err != nil {
		return err
	}
	return serveOn(ctx, name, ln, h)
}

// serveOn serves h on ln until ctx is done, then shuts down within 5 s.
func serveOn(ctx context.Context, name string, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
