package oauthflow

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pendingSave is a token the provider issued that the store has not taken
// yet. The provider has already spent what it was exchanged for (a rotated
// refresh token, a one-time code), so it is never dropped: it is served from
// memory while its save is retried.
type pendingSave struct {
	tok    Token // as served; Version is the one the save will give it
	prev   int64 // the version the save compares against (-1: none)
	ev     RefreshEvent
	leased bool // the save holds (and renews) the account's refresh lease
}

// Saves of a pending token are retried this often, doubling up to the cap.
const (
	saveRetryFirst = 100 * time.Millisecond
	saveRetryMax   = 2 * time.Second
)

// Connect stores the first token of a connection (from a code exchange). A
// new grant replaces whatever the account held. When the store cannot take
// it, the token is kept and its save retried, since the code is spent.
func (m *Manager) Connect(ctx context.Context, a Account, in Integration, tok Token, actor string) (Token, error) {
	return m.ConnectWith(ctx, a, in, tok, actor, AccountFacts{})
}

// ConnectWith is Connect recording, in the same save, what the connect
// learnt about the account (captured values, identity).
func (m *Manager) ConnectWith(ctx context.Context, a Account, in Integration, tok Token, actor string, f AccountFacts) (Token, error) {
	tok.Answer = nil
	tok.Rotations, tok.RefreshIssuedAt = 0, time.Time{}
	if tok.RefreshToken != "" {
		tok.RefreshIssuedAt = tok.ObtainedAt // a new chain begins
	}
	ev := RefreshEvent{Reason: ReasonConnect, Note: "connected", Warnings: Warnings(in, tok), Actor: actor, Status: StatusConnected,
		Captured: f.Captured, Identity: f.Identity}
	saved, err := m.saveToken(ctx, a.ID, -1, tok, ev)
	if errors.Is(err, ErrTokenConflict) {
		return Token{}, fmt.Errorf("connect account %s: %w", a.ID, err)
	}
	m.Forget(a.ID)
	if err != nil {
		return m.keep(a.ID, -1, tok, ev, err, false).Token, nil
	}
	m.remember(a.ID, saved)
	return saved, nil
}

// keep serves tok from memory and retries its save in the background until
// it lands, the account changes under it, or shutdown runs out of time.
func (m *Manager) keep(accountID string, prev int64, tok Token, ev RefreshEvent, err error, leased bool) TokenResult {
	if prev >= 0 {
		tok.Version = prev + 1
	}
	p := &pendingSave{tok: tok, prev: prev, ev: ev, leased: leased}
	m.mu.Lock()
	m.pending[accountID] = p
	delete(m.cache, accountID)
	m.mu.Unlock()
	m.endStreak(accountID)
	m.log.Error("the provider issued a new token but the database refused it: it is kept in memory and used, and saving it is retried until it lands",
		"account_id", accountID, "err", err)
	m.running.Add(1)
	go m.keepSaving(accountID, p)
	return TokenResult{Token: tok, Refreshed: true, Reason: ev.Reason,
		Note: ev.Note + "; the new token is not saved yet (the database refused it), so it is kept in memory while saving it is retried"}
}

// keepSaving retries the save of p. Once shutdown's wait has run out
// (m.stopping) it makes one last attempt.
func (m *Manager) keepSaving(accountID string, p *pendingSave) {
	defer m.running.Done()
	delay := saveRetryFirst
	for attempt := 2; ; attempt++ {
		stopping := false
		select {
		case <-time.After(delay):
		case <-m.stopping:
			stopping = true
		}
		if !m.stillPending(accountID, p) { // a new connection or a disconnect replaced it
			m.settle(accountID, p, Token{}, false)
			return
		}
		done, err := m.trySave(accountID, p)
		switch {
		case done:
			if err == nil {
				m.log.Info("saved the new token after all", "account_id", accountID, "attempts", attempt)
			}
			return
		case stopping:
			m.log.Error("shutting down before a new token could be saved: if the provider rotates refresh tokens, the account will need a reconnect",
				"account_id", accountID, "attempts", attempt, "err", err)
			return
		case attempt%10 == 0:
			m.log.Error("still cannot save the new token; it is kept in memory and used", "account_id", accountID, "attempts", attempt, "err", err)
		}
		delay = min(2*delay, saveRetryMax)
	}
}

// trySave makes one attempt; done reports that p is settled (saved, or
// given way to a change of the account, then with that as err).
func (m *Manager) trySave(accountID string, p *pendingSave) (done bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if p.leased { // keep other processes off the spent refresh token
		m.opts.Store.AcquireLease(ctx, accountID, m.holder, m.opts.LeaseTTL)
	}
	saved, err := m.saveToken(ctx, accountID, p.prev, p.tok, p.ev)
	if errors.Is(err, ErrTokenConflict) {
		// An earlier attempt may have landed after all (its commit reported
		// an error); otherwise the account changed and the stored state wins.
		cur, lerr := m.opts.Store.LoadToken(ctx, accountID)
		if lerr != nil || cur.AccessToken != p.tok.AccessToken {
			m.log.Warn("a new token that could not be saved gave way: the account changed meanwhile", "account_id", accountID, "err", err)
			m.settle(accountID, p, Token{}, false)
			return true, err
		}
		saved, err = cur, nil
	}
	if err != nil {
		return false, err
	}
	m.settle(accountID, p, saved, true)
	return true, nil
}

func (m *Manager) stillPending(accountID string, p *pendingSave) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[accountID] == p
}

// settle ends p: the saved token replaces it in memory (when ok), and the
// lease it held is given back.
func (m *Manager) settle(accountID string, p *pendingSave, saved Token, ok bool) {
	m.mu.Lock()
	if m.pending[accountID] == p {
		delete(m.pending, accountID)
		if ok {
			m.cache[accountID] = saved
		} else {
			delete(m.cache, accountID)
		}
	}
	m.mu.Unlock()
	if p.leased {
		m.releaseLease(accountID)
	}
}
