-- golive store, schema version 3 (PostgreSQL): API tokens may expire. expires_at is an ISO 8601 UTC time
-- (NULL: the token never expires); a server refuses a token past it with 401.

ALTER TABLE tokens ADD COLUMN expires_at text;
