-- golive store, schema version 4 (SQLite): how a token's holder authenticated. auth is 'token' for a token
-- made with `golive token create`, 'oidc' for a session token the server made at an OpenID Connect login;
-- subject is who authenticated (the OIDC subject), recorded on every act made with the token.

ALTER TABLE tokens ADD COLUMN auth TEXT NOT NULL DEFAULT 'token';

ALTER TABLE tokens ADD COLUMN subject TEXT;
