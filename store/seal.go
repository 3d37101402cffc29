package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length of an encryption key: AES-256.
const KeySize = 32

// sealVersion is the first byte of every sealed value, so the format can change
// later without guessing.
const sealVersion byte = 1

const (
	keyIDSize = 4
	nonceSize = 12
	headerLen = 1 + keyIDSize + nonceSize
)

// ErrUnseal is wrapped by every failure to open a sealed value.
var ErrUnseal = errors.New("cannot open sealed value")

// Sealer encrypts secret columns with AES-256-GCM. Each sealed value carries the
// id of the key that sealed it, so values written under an older key still open
// while a rotation is under way. The caller passes the owning row's identity as
// associated data: a value copied into another row fails to open.
type Sealer struct {
	current keyID
	aeads   map[keyID]cipher.AEAD
}

type keyID [keyIDSize]byte

// KeyID returns the short, non-secret identifier of a key (hex of the first four
// bytes of its SHA-256), as it appears inside sealed values and in log lines.
func KeyID(key []byte) string {
	id := idOf(key)
	return hex.EncodeToString(id[:])
}

func idOf(key []byte) keyID {
	sum := sha256.Sum256(key)
	var id keyID
	copy(id[:], sum[:keyIDSize])
	return id
}

// NewSealer returns a Sealer that writes with current and reads values written
// with current or any of previous.
func NewSealer(current []byte, previous ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[keyID]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("store: encryption key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("store: encryption key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("store: encryption key %d: %w", i, err)
		}
		id := idOf(k)
		if i == 0 {
			s.current = id
		}
		if _, dup := s.aeads[id]; !dup {
			s.aeads[id] = aead
		}
	}
	return s, nil
}

// CurrentKeyID is KeyID of the key new values are sealed with.
func (s *Sealer) CurrentKeyID() string { return hex.EncodeToString(s.current[:]) }

// Seal encrypts plaintext for the row named by aad (for example
// "integrations.client_secret:42").
func (s *Sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	out := make([]byte, headerLen, headerLen+len(plaintext)+16)
	out[0] = sealVersion
	copy(out[1:], s.current[:])
	if _, err := rand.Read(out[1+keyIDSize : headerLen]); err != nil {
		return nil, fmt.Errorf("store: seal: %w", err)
	}
	aead := s.aeads[s.current]
	return aead.Seal(out, out[1+keyIDSize:headerLen], plaintext, s.additional(out[:1+keyIDSize], aad)), nil
}

// Open decrypts a value sealed for the row named by aad.
func (s *Sealer) Open(sealed []byte, aad string) ([]byte, error) {
	if len(sealed) < headerLen+16 {
		return nil, fmt.Errorf("store: %w for %s: value is too short to be sealed", ErrUnseal, aad)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("store: %w for %s: unknown format version %d", ErrUnseal, aad, sealed[0])
	}
	var id keyID
	copy(id[:], sealed[1:1+keyIDSize])
	aead, ok := s.aeads[id]
	if !ok {
		return nil, fmt.Errorf("store: %w for %s: it was sealed with key %s, which is neither AIRLOCK_ENCRYPTION_KEY nor in AIRLOCK_PREVIOUS_ENCRYPTION_KEYS",
			ErrUnseal, aad, hex.EncodeToString(id[:]))
	}
	plain, err := aead.Open(nil, sealed[1+keyIDSize:headerLen], sealed[headerLen:], s.additional(sealed[:1+keyIDSize], aad))
	if err != nil {
		return nil, fmt.Errorf("store: %w for %s: authentication failed (the value was altered or copied from another row)", ErrUnseal, aad)
	}
	return plain, nil
}

// SealedWithCurrent reports whether a sealed value already uses the current key;
// key rotation skips those, which makes an interrupted rotation resumable.
func (s *Sealer) SealedWithCurrent(sealed []byte) bool {
	return len(sealed) >= headerLen && sealed[0] == sealVersion && keyID(sealed[1:1+keyIDSize]) == s.current
}

// additional binds the header (version and key id) and the row identity.
func (s *Sealer) additional(header []byte, aad string) []byte {
	return append(append([]byte{}, header...), aad...)
}

// NewKey returns a fresh random 32-byte key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("store: new key: %w", err)
	}
	return k, nil
}
