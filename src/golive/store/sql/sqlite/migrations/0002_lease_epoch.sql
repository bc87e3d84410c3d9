-- golive store, schema version 2 (SQLite): fencing. A run's lease epoch grows at every change of owner and
-- is kept on the run (a released lease row is deleted, the epoch is not); the lease row carries the epoch
-- it was taken at. An engine's append is accepted only at the run's current epoch, under a live lease.

ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;

ALTER TABLE runs_lease ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
