package threads

import (
	"context"
	"fmt"
	"time"
)

// Heartbeat records that the instance whose River client id is id is
// alive (the instances table).
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, sqlHeartbeat, id); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// Retire removes the instance id (a clean shutdown): nothing of it is
// running any more.
func (s *Store) Retire(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, sqlRetireInstance, id); err != nil {
		return fmt.Errorf("retire instance: %w", err)
	}
	return nil
}

// RescueOrphans makes the processing and notification jobs still running
// under an instance whose last heartbeat is older than deadAfter
// available again (discarded when they had no attempt left), and forgets
// instances silent for a day. It returns how many jobs it rescued. Only a
// caller whose own heartbeats have all succeeded for the last deadAfter
// may call it: otherwise a live instance that could not reach the
// database either would look dead.
func (s *Store) RescueOrphans(ctx context.Context, deadAfter time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, sqlRescueOrphans, deadAfter.Seconds(), []string{QueueProcess, QueueNotify})
	if err != nil {
		return 0, fmt.Errorf("rescue orphaned jobs: %w", err)
	}
	if _, err := s.pool.Exec(ctx, sqlForgetInstances); err != nil {
		return 0, fmt.Errorf("forget silent instances: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
