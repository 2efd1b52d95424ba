package importer

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// newPeople are the authors of a batch not yet known to the importer, as
// peopleSQL takes them: address hashes, sealed addresses, their key ids
// and display names.
type newPeople struct {
	hashes, sealed [][]byte
	keyIDs         []int32
	names          []string
}

// ensurePeople returns the person id of every author of items, by address
// hash, creating the unknown ones (unconfirmed, their addresses sealed).
func (imp *importer) ensurePeople(ctx context.Context, tx pgx.Tx, items []*item, res *batchResult) (map[string]int64, error) {
	ids := map[string]int64{}
	var np newPeople
	for _, it := range items {
		k := string(it.authorHash)
		if _, ok := ids[k]; ok {
			continue
		}
		if id, ok := imp.people.get(k); ok {
			ids[k] = id
			continue
		}
		ids[k] = 0
		keyID, enc, err := imp.st.Keys().Seal(it.from)
		if err != nil {
			return nil, err
		}
		np.hashes, np.sealed = append(np.hashes, it.authorHash), append(np.sealed, enc)
		np.keyIDs, np.names = append(np.keyIDs, int32(keyID)), append(np.names, it.authorName)
	}
	if len(np.hashes) == 0 {
		return ids, nil
	}
	if err := upsertPeople(ctx, tx, np, ids, res); err != nil {
		return nil, err
	}
	// Someone created by a concurrent transaction after this statement's
	// snapshot was neither inserted nor seen: read them now.
	var missing [][]byte
	for _, h := range np.hashes {
		if ids[string(h)] == 0 {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return ids, nil
	}
	if err := readPeople(ctx, tx, missing, ids, res); err != nil {
		return nil, err
	}
	for _, h := range missing {
		if ids[string(h)] == 0 {
			return nil, errors.New("import people: a person could be neither created nor found")
		}
	}
	return ids, nil
}

// upsertPeople creates the people of np not yet stored and sets the id of
// each one in ids and res (counting those it created).
func upsertPeople(ctx context.Context, tx pgx.Tx, np newPeople, ids map[string]int64, res *batchResult) error {
	rows, err := tx.Query(ctx, peopleSQL, np.hashes, np.sealed, np.keyIDs, np.names)
	if err != nil {
		return fmt.Errorf("import people: %w", err)
	}
	var id int64
	var hash []byte
	var created bool
	_, err = pgx.ForEachRow(rows, []any{&id, &hash, &created}, func() error {
		ids[string(hash)] = id
		res.people[string(hash)] = id
		if created {
			res.stats.People++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import people: %w", err)
	}
	return nil
}

// readPeople sets the id of the people with the address hashes in ids and
// res.
func readPeople(ctx context.Context, tx pgx.Tx, hashes [][]byte, ids map[string]int64, res *batchResult) error {
	rows, err := tx.Query(ctx, peopleByHashSQL, hashes)
	if err != nil {
		return fmt.Errorf("import people: %w", err)
	}
	var id int64
	var hash []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &hash}, func() error {
		ids[string(hash)], res.people[string(hash)] = id, id
		return nil
	})
	if err != nil {
		return fmt.Errorf("import people: %w", err)
	}
	return nil
}
