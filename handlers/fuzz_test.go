package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"airlock/oauthflow"
	"airlock/store"
)

// FuzzImportJSON feeds integration JSON — the body of the API's create and
// replace, the console's import textarea — through the code those routes use:
// decodeJSONFrom, then checkIntegration (Normalize and Validate), then the
// store. Nothing may panic; a body that is refused gets a message; one that is
// accepted is stored (or is a duplicate key) and reads back as it was
// accepted, so an accepted body never ends in a 500; and what an import shows
// again never carries the client secret.
func FuzzImportJSON(f *testing.F) {
	for _, in := range []oauthflow.Integration{fullIntegration("acme"), machineIntegration("billing")} {
		in.OAuth2.ClientSecret = "s3cret"
		b, err := json.Marshal(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
		f.Add(string(b[:len(b)/2]))
		f.Add(strings.Replace(string(b), `"oauth2":{`, `"oauth2":{"CLIENT_SECRET":"x\"y",`, 1))
	}
	for _, s := range []string{"", "null", "[]", `"x"`, "{}", `{"key":"a","unknown":1}`, `{"oauth2":{"refresh_window_seconds":1e400}}`,
		`{"key":"k","name":"n","oauth2":{"grant_type":"client_credentials","token_url":"https://{a}.example.com/t","client_id":"c"}}`,
		`{"parameters":[{"name":"a"}],"oauth2":{"token_url":"https://x.example.com/{a}"}}{}`} {
		f.Add(s)
	}
	sealer, err := store.NewSealer(bytes.Repeat([]byte{3}, store.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), store.Options{Sealer: sealer})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })

	f.Fuzz(func(t *testing.T, text string) {
		in := newIntegrationBase()
		if p := decodeJSONFrom(strings.NewReader(text), &in); p != nil {
			if p.msg == "" {
				t.Fatalf("refused %q without a message", text)
			}
			return
		}
		shown := newIntegrationBase()
		if p := decodeJSONFrom(strings.NewReader(oauthflow.WithoutSecrets(text)), &shown); p != nil || shown.OAuth2.ClientSecret != "" {
			t.Fatalf("the import page would show %q: it reads as %v with secret %q", truncate(oauthflow.WithoutSecrets(text), 300), p, shown.OAuth2.ClientSecret)
		}
		if fe := oauthflow.CheckIntegration(&in, oauthflow.ValidateOptions{}, nil); fe != nil {
			for path, msg := range fe {
				if path == "" || msg == "" {
					t.Fatalf("field error %q: %q for %q", path, msg, text)
				}
			}
			return
		}
		ctx := context.Background()
		saved, err := st.CreateIntegration(ctx, in)
		if errors.Is(err, store.ErrConflict) {
			return
		}
		if err != nil {
			t.Fatalf("an accepted integration is not stored (a 500): %v\n%s", err, text)
		}
		defer st.DeleteIntegration(ctx, saved.Key)
		got, err := st.GetIntegration(ctx, saved.Key)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := comparable(got), comparable(in); !reflect.DeepEqual(g, w) {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			t.Fatalf("stored integration differs from the accepted one:\ngot  %s\nwant %s", gb, wb)
		}
		// The export of what was stored imports as the same integration.
		again := newIntegrationBase()
		b, _ := json.Marshal(publicIntegration(got))
		if p := decodeJSONFrom(bytes.NewReader(b), &again); p != nil {
			t.Fatalf("the export %s does not import: %s", b, p.msg)
		}
		if fe := oauthflow.CheckIntegration(&again, oauthflow.ValidateOptions{}, nil); fe != nil {
			t.Fatalf("the export %s is refused: %v", b, fe)
		}
		if g, w := comparable(again), comparable(got); !reflect.DeepEqual(g, w) {
			gb, _ := json.Marshal(g)
			wb, _ := json.Marshal(w)
			t.Fatalf("re-imported export differs:\ngot  %s\nwant %s", gb, wb)
		}
	})
}

// comparable is an integration without what the store assigns or seals.
func comparable(in oauthflow.Integration) oauthflow.Integration {
	in.ID, in.CreatedAt, in.UpdatedAt = 0, time.Time{}, time.Time{}
	in.OAuth2.ClientSecret, in.OAuth2.ClientSecretLast4, in.OAuth2.ClientSecretSet = "", "", false
	return in
}
