package oauthflow

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// proxyRejected reports whether a proxied answer means the token was
// rejected, as RejectedResponse does for the request API. A rule that reads
// the body needs the body: the answer's first MaxReplayBody bytes are read
// and put back in front of the rest, so the caller still gets every byte.
// Only a JSON answer (gzip-encoded or not) that ends within MaxReplayBody is
// read for its body; any other answer — an event stream, a download — keeps
// streaming unread, and body rules do not match it.
func proxyRejected(in Integration, resp *http.Response) (bool, error) {
	if in.Rejected(resp.StatusCode) {
		return true, nil
	}
	if len(in.RejectedResponses) == 0 {
		return false, nil
	}
	var body []byte
	if needsBody(in, resp) {
		var err error
		if body, err = peekBody(resp); err != nil {
			return false, err
		}
	}
	return in.RejectedResponse(resp.StatusCode, resp.Header, body), nil
}

// needsBody reports whether a body rule applies to this status and the
// answer is JSON whose length is not known to exceed MaxReplayBody.
func needsBody(in Integration, resp *http.Response) bool {
	applies := slices.ContainsFunc(in.RejectedResponses, func(r RejectedRule) bool {
		return r.BodyPath != "" && (len(r.Statuses) == 0 || slices.Contains(r.Statuses, resp.StatusCode))
	})
	if !applies || resp.ContentLength > MaxReplayBody || resp.Body == nil || resp.Body == http.NoBody {
		return false
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return false
	}
	switch strings.ToLower(resp.Header.Get("Content-Encoding")) {
	case "", "identity", "gzip":
		return true
	}
	return false
}

// peekBody reads up to MaxReplayBody+1 bytes of the answer and puts them
// back; it returns them decoded when the whole body fit, else nil.
func peekBody(resp *http.Response) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, MaxReplayBody+1))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf.Bytes()), resp.Body), resp.Body}
	if err != nil {
		return nil, err
	}
	if n > MaxReplayBody {
		return nil, nil
	}
	if !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return buf.Bytes(), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, nil // not gzip after all: no body rule matches
	}
	plain, err := io.ReadAll(io.LimitReader(zr, MaxReplayBody))
	if err != nil {
		return nil, nil
	}
	return plain, nil
}

// readCloser reads from one reader and closes another: a body partly read
// and put back keeps the original's Close.
type readCloser struct {
	io.Reader
	io.Closer
}
