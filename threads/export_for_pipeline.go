package threads

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// This file holds the Tx-level operations that threads/pipeline (and its
// tests) use and that the store would otherwise keep to itself. Each one
// is a thin exported face of an internal operation, with the same contract.

// EnsurePerson returns the person with addr (already normalised, see
// NormalizeAddress), creating them with display name name when unknown,
// and filling in an empty display name. It runs inside tx, which the
// caller owns. The processing pipeline does this for each message's
// author; tests use it to set up members.
func (s *Store) EnsurePerson(ctx context.Context, tx pgx.Tx, addr, name string) (Person, error) {
	return s.ensurePerson(ctx, tx, addr, name)
}
