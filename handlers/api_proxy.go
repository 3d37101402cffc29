package handlers

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"airlock/oauthflow"
)

// proxyPrefix begins every proxy path: /api/v1/accounts/{id}/proxy/{path...}.
const proxyPrefix = "/api/v1/accounts/"

// proxyMethods are the methods the proxy forwards.
var proxyMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// isProxyRoute reports whether a matched route is the proxy's, whose bodies
// stream with no size limit.
func isProxyRoute(route string) bool {
	return strings.HasPrefix(route, proxyPrefix) && strings.Contains(route, "/proxy")
}

// apiProxy forwards the request through the account as it came and streams
// the upstream's answer back. Errors Airlock makes itself go to the error
// handler (the API's JSON shape and an Airlock-Error header); once the
// upstream's status is sent, a body that breaks off aborts the connection,
// so the caller never takes a cut stream for a whole one.
func (h *Handler) apiProxy(c echo.Context) error {
	r := c.Request()
	rc := http.NewResponseController(c.Response().Writer)
	// A stream (server-sent events, a large download or upload) may outlast
	// the server's read and write timeouts; the outbound connect and header
	// timeouts still bound the upstream.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	resp, err := h.accounts.Proxy(r.Context(), c.Param("id"), oauthflow.ProxyRequest{
		Method: r.Method, Path: proxyTail(r.URL.EscapedPath()), RawQuery: r.URL.RawQuery,
		Base: r.Header.Get(oauthflow.HeaderBaseURL), Header: r.Header, Body: r.Body, ContentLength: r.ContentLength,
	})
	if err != nil {
		return err
	}
	w := c.Response()
	hd := w.Header()
	clear(hd) // the upstream's headers, not the console's (secureHeaders)
	for k, v := range resp.Header {
		hd[k] = v
	}
	if resp.RefreshReason != "" {
		hd.Set(oauthflow.HeaderRefreshed, resp.RefreshReason)
	}
	w.WriteHeader(resp.Status)
	serr := stream(w, resp.Body, flushEach(resp))
	resp.Close(serr)
	if serr != nil && r.Context().Err() == nil {
		panic(http.ErrAbortHandler) // net/http ends the connection without a clean end of body
	}
	return nil
}

// proxyTail is the escaped path after /proxy: "" or beginning with "/".
// It is read from the escaped path, not from the router's parameter, so
// %2e, %2f and %5c reach the traversal check as they were sent.
func proxyTail(escaped string) string {
	rest := strings.TrimPrefix(escaped, proxyPrefix)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[i:]
	}
	return strings.TrimPrefix(rest, "/proxy")
}

// flushEach reports whether each chunk is sent as it arrives: for event
// streams and bodies of unknown length, as httputil.ReverseProxy does.
func flushEach(resp *oauthflow.ProxyResponse) bool {
	ct := resp.Header.Get("Content-Type")
	return resp.Header.Get("Content-Length") == "" || strings.HasPrefix(ct, "text/event-stream")
}

// copyBufs keeps stream's buffers: 32 KiB a request is otherwise most of
// what a proxied request allocates.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// stream copies body to w in 32 KiB reads, flushing after each write when
// asked; it returns a read error of the upstream, not the end of the body.
// A write error (the caller gone) stops it and is returned too.
func stream(w *echo.Response, body io.Reader, flush bool) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				w.Flush()
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
