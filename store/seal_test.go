package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealRoundTrip(t *testing.T) {
	s, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"", "s3cret", strings.Repeat("x", 10000)} {
		sealed, err := s.Seal([]byte(plain), "integrations.client_secret:1")
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) > 0 && bytes.Contains(sealed, []byte(plain)) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, "integrations.client_secret:1")
		if err != nil || string(got) != plain {
			t.Errorf("open: got %q (%v), want %q", got, err, plain)
		}
	}
}

func TestSealNonceIsRandom(t *testing.T) {
	s, _ := NewSealer(testKey(1))
	a, _ := s.Seal([]byte("same"), "r:1")
	b, _ := s.Seal([]byte("same"), "r:1")
	if bytes.Equal(a, b) {
		t.Error("two seals of the same value are identical: the nonce is not random")
	}
}

func TestOpenFailures(t *testing.T) {
	s, _ := NewSealer(testKey(1))
	sealed, _ := s.Seal([]byte("client-secret-value"), "integrations.client_secret:7")
	other, _ := NewSealer(testKey(2))

	cases := []struct {
		name    string
		sealer  *Sealer
		value   func() []byte
		aad     string
		wantMsg string
	}{
		{"copied to another row", s, func() []byte { return sealed }, "integrations.client_secret:8", "altered or copied"},
		{"copied to another column", s, func() []byte { return sealed }, "tokens.access:7", "altered or copied"},
		{"unknown key", other, func() []byte { return sealed }, "integrations.client_secret:7", "AIRLOCK_PREVIOUS_ENCRYPTION_KEYS"},
		{"too short", s, func() []byte { return sealed[:10] }, "integrations.client_secret:7", "too short"},
		{"unknown version", s, func() []byte { b := bytes.Clone(sealed); b[0] = 9; return b }, "integrations.client_secret:7", "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.sealer.Open(tc.value(), tc.aad)
			if !errors.Is(err, ErrUnseal) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("got %v, want ErrUnseal mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

// TestFlippedByteFailsAnywhere flips each byte of a sealed value in turn.
func TestFlippedByteFailsAnywhere(t *testing.T) {
	s, _ := NewSealer(testKey(1))
	sealed, _ := s.Seal([]byte("refresh-token"), "tokens.refresh:acc_1")
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		if got, err := s.Open(b, "tokens.refresh:acc_1"); err == nil {
			t.Errorf("byte %d flipped: got %q and no error, want an error", i, got)
		}
	}
}

func TestPreviousKeysReadCurrentKeyWrites(t *testing.T) {
	old, _ := NewSealer(testKey(1))
	sealedOld, _ := old.Seal([]byte("v"), "r:1")

	rotated, err := NewSealer(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealedOld, "r:1"); err != nil || string(got) != "v" {
		t.Errorf("open old value with previous key: got %q (%v), want %q", got, err, "v")
	}
	if rotated.SealedWithCurrent(sealedOld) {
		t.Error("old value reported as sealed with the current key")
	}
	sealedNew, _ := rotated.Seal([]byte("v"), "r:1")
	if !rotated.SealedWithCurrent(sealedNew) {
		t.Error("new value not sealed with the current key")
	}
	if _, err := old.Open(sealedNew, "r:1"); err == nil {
		t.Error("new value opened with only the old key: it was not written with the current key")
	}
	if got, want := rotated.CurrentKeyID(), KeyID(testKey(2)); got != want {
		t.Errorf("current key id: got %s, want %s", got, want)
	}
}

func TestNewSealerRejectsBadKeys(t *testing.T) {
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Error("16-byte key: got nil error, want an error")
	}
	if _, err := NewSealer(testKey(1), make([]byte, 31)); err == nil {
		t.Error("31-byte previous key: got nil error, want an error")
	}
}
