package oauthflow

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestGetRefreshIsNeverResentByTheTransport: a GET token endpoint that reads a
// refresh request and then drops the connection must see that refresh token
// once. net/http re-sends a GET by itself when a reused keep-alive connection
// fails after the request was written; against a rotating provider with reuse
// detection that second copy revokes the grant.
func TestGetRefreshIsNeverResentByTheTransport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	seen := map[string]int{}
	n := 0
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					mu.Lock()
					n++
					nth := n
					seen[req.URL.Query().Get("refresh_token")]++
					mu.Unlock()
					if nth == 2 { // the rotation happened, the answer is lost
						return
					}
					body := `{"access_token":"at","token_type":"Bearer","expires_in":3600}`
					conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
						strconv.Itoa(len(body)) + "\r\n\r\n" + body))
				}
			}()
		}
	}()
	url := "http://" + ln.Addr().String() + "/token"
	c := &Client{HTTP: NewHTTPClient(HTTPOptions{Guard: loopbackGuard(t, true), Timeout: 5 * time.Second}, NoRedirects)}
	in := Integration{OAuth2: OAuth2{GrantType: GrantAuthorizationCode, TokenURL: url, TokenMethod: "GET",
		ClientID: "id", ClientSecret: "secret", ClientAuth: ClientAuthBasic}}
	ctx := context.Background()
	if _, err := c.Refresh(ctx, in, nil, Endpoints{Token: url}, "rt-one"); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if _, err := c.Refresh(ctx, in, nil, Endpoints{Token: url}, "rt-two"); err == nil {
		t.Fatal("second refresh: got an answer, want the dropped connection's error")
	}
	mu.Lock()
	defer mu.Unlock()
	if got := seen["rt-two"]; got != 1 {
		t.Errorf("the endpoint received the second refresh token %d times, want 1", got)
	}
}
