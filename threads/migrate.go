package threads

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func gooseProvider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub)
	if err != nil {
		return nil, fmt.Errorf("migration provider: %w", err)
	}
	return p, nil
}

// Migrate brings the database at pool up to date: River's own tables (with
// River's migrator) and Postern's embedded migrations (with goose), each
// migration in its own transaction and recorded in the database.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := gooseProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postern migrations: %w", err)
	}
	return nil
}

// MigrateURL connects to url, migrates and disconnects.
func MigrateURL(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	return Migrate(ctx, pool)
}

// ErrSchemaOld means the database needs `postern migrate`.
var ErrSchemaOld = errors.New("database schema is not up to date: run `postern migrate`")

// CheckSchema returns ErrSchemaOld (wrapped with details) unless every
// embedded migration and River's migrations have been applied.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := gooseProvider(db)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("%w (%v)", ErrSchemaOld, err)
	}
	if pending {
		cur, _ := p.GetDBVersion(ctx)
		return fmt.Errorf("%w (schema version %d, binary has newer migrations)", ErrSchemaOld, cur)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("%w (river: %v)", ErrSchemaOld, err)
	}
	all := migrator.AllVersions()
	if len(existing) < len(all) {
		return fmt.Errorf("%w (river schema at %d of %d)", ErrSchemaOld, len(existing), len(all))
	}
	return nil
}

// Schema is the state of a database's migrations against the ones this
// binary embeds (ReadSchema).
type Schema struct {
	// Version is the highest goose migration applied (0: none, or no
	// goose table); Latest is the highest this binary embeds.
	Version, Latest int64
	// RiverApplied and RiverAll count River's migrations applied and
	// known to the River this binary is built with.
	RiverApplied, RiverAll int
}

// Current reports whether every migration of the binary is applied.
func (s Schema) Current() bool { return s.Version >= s.Latest && s.RiverApplied >= s.RiverAll }

// The queries of ReadSchema: goose's default version table.
const (
	sqlGooseTableExists = `SELECT to_regclass('goose_db_version') IS NOT NULL`
	sqlGooseVersion     = `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`
)

// ReadSchema reads the migration state of the database at pool without
// changing it (the read-only counterpart of Migrate, for postern doctor).
func ReadSchema(ctx context.Context, pool *pgxpool.Pool) (Schema, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := gooseProvider(db)
	if err != nil {
		return Schema{}, err
	}
	var s Schema
	for _, src := range p.ListSources() {
		s.Latest = max(s.Latest, src.Version)
	}
	// Read goose's table directly: the provider's GetDBVersion creates
	// it when missing, and this must change nothing.
	var table bool
	if err := pool.QueryRow(ctx, sqlGooseTableExists).Scan(&table); err != nil {
		return Schema{}, fmt.Errorf("read schema version: %w", err)
	}
	if table {
		if err := pool.QueryRow(ctx, sqlGooseVersion).Scan(&s.Version); err != nil {
			return Schema{}, fmt.Errorf("read schema version: %w", err)
		}
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return Schema{}, fmt.Errorf("river migrator: %w", err)
	}
	s.RiverAll = len(migrator.AllVersions())
	existing, err := migrator.ExistingVersions(ctx)
	if err == nil {
		s.RiverApplied = len(existing)
	}
	return s, nil
}
