package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"airlock/store"
)

// Webhook delivery: 1 attempt plus up to 5 retries, with exponential backoff.
const (
	webhookAttempts = 6
	webhookTimeout  = 10 * time.Second
)

// SignatureHeader carries the webhook signature: t=<unix seconds>,sha256=<hex
// HMAC-SHA256 of "<t>.<body>" with the secret>.
const SignatureHeader = "X-Airlock-Signature"

// SignWebhook computes the signature header value for a body sent at t.
func SignWebhook(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", t)
	m.Write(body)
	return "t=" + strconv.FormatInt(t, 10) + ",sha256=" + hex.EncodeToString(m.Sum(nil))
}

// RunWebhooks sends due webhook deliveries until ctx ends.
func (h *Handler) RunWebhooks(ctx context.Context) {
	t := time.NewTicker(h.webhookPoll)
	defer t.Stop()
	for {
		if err := h.SendDueWebhooks(ctx); err != nil && ctx.Err() == nil {
			h.log.Warn("webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendDueWebhooks sends every delivery that is due now, once.
func (h *Handler) SendDueWebhooks(ctx context.Context) error {
	// Claim a few at a time, for longer than sending them can take, so no
	// other worker sends one of them meanwhile.
	ds, err := h.store.ClaimDeliveries(ctx, 5, 5*webhookTimeout+10*time.Second)
	if err != nil || len(ds) == 0 {
		return err
	}
	cfg, err := h.store.GetWebhook(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		status, sendErr := h.deliver(ctx, cfg, d)
		ok := sendErr == nil && status >= 200 && status < 300
		next := time.Time{}
		errText := ""
		if !ok {
			if sendErr != nil {
				errText = sendErr.Error()
			} else {
				errText = fmt.Sprintf("the receiver answered %d", status)
			}
			if d.Attempts+1 < webhookAttempts {
				next = h.now().Add(h.webhookBackoff << d.Attempts)
			}
		}
		if h.metrics != nil {
			h.metrics.webhooks.WithLabelValues(map[bool]string{true: "delivered", false: "failed"}[ok]).Inc()
		}
		if err := h.store.RecordAttempt(ctx, d.ID, status, errText, ok, next); err != nil {
			return err
		}
	}
	return nil
}

// deliver POSTs one event, signed, through the dial guard, with a 10 s limit.
func (h *Handler) deliver(ctx context.Context, cfg store.WebhookConfig, d store.Delivery) (int, error) {
	if cfg.URL == "" {
		return 0, fmt.Errorf("no webhook URL is set")
	}
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	body := []byte(d.Payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, bytes.NewReader(body))
	if err != nil { // its text quotes the URL
		return 0, fmt.Errorf("the webhook URL %s cannot be used: set it again", maskURL(cfg.URL))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Airlock-Webhook")
	req.Header.Set("X-Airlock-Event", d.Event)
	req.Header.Set("X-Airlock-Delivery", strconv.FormatInt(d.ID, 10))
	if cfg.SecretSet {
		req.Header.Set(SignatureHeader, SignWebhook(cfg.Secret, h.now().Unix(), body))
	}
	resp, err := h.webhookHTTP.Do(req)
	if err != nil {
		// *url.Error quotes the whole URL, token and all: name it masked.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("POST %s: %s", maskURL(cfg.URL), strings.ReplaceAll(err.Error(), cfg.URL, maskURL(cfg.URL)))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
