package importer

import (
	"context"
	"testing"

	"github.com/postern/postern/internal/storetest"
	"github.com/postern/postern/internal/threadstest"
	"github.com/postern/postern/threads"
	"github.com/postern/postern/threads/pipeline"
)

func TestMain(m *testing.M) { threadstest.MainVerifyNoLeaks(m) }

// testDomain is the forum domain of the stores made by newTestStore.
const testDomain = storetest.Domain

// newTestStore returns a store over a fresh database (storetest.New):
// jobs are enqueued but never worked, so tests call Process themselves.
// Mail from 192.0.2.0/24 is trusted.
func newTestStore(t *testing.T) *threads.Store { return storetest.New(t, nil) }

// confirmedPerson stores a confirmed person with addr (a test shortcut
// for the confirmation loop).
func confirmedPerson(t *testing.T, st *threads.Store, addr, name string) {
	t.Helper()
	keyID, sealed, err := st.Keys().Seal(addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Pool().Exec(context.Background(), `INSERT INTO people (display_name, address_hash, address_enc, key_id, confirmed_at)
		VALUES ($1, $2, $3, $4, now())`, name, st.Keys().AddressHash(addr), sealed, keyID)
	if err != nil {
		t.Fatal(err)
	}
}

// deliver accepts and processes raw (storetest.Deliver).
func deliver(t *testing.T, st *threads.Store, mailFrom string, rcpt []string, raw string) int64 {
	return storetest.Deliver(t, st, pipeline.Process, mailFrom, rcpt, raw)
}

// inboundState returns the state, reason and post id of inbound id.
func inboundState(t *testing.T, st *threads.Store, id int64) (state, reason string, post int64) {
	return storetest.InboundState(t, st, id)
}

// testConfig is the store configuration of the tests (storetest.Config).
func testConfig(secret []byte) threads.Config { return storetest.Config(secret) }
