-- Customers of a workspace, the custom profile fields their `attributes` follow, and groups.
CREATE TABLE profile_fields (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    key           text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
    label         text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    field_type    text NOT NULL CHECK (field_type IN ('string', 'number', 'boolean', 'date', 'enum')),
    required      boolean NOT NULL DEFAULT false,
    options       text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT profile_fields_key_key UNIQUE (workspace_id, key),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);

CREATE TABLE customers (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    external_id   text CHECK (length(external_id) BETWEEN 1 AND 255),
    -- Stored trimmed and lower-cased.
    email         text CHECK (email = lower(email)),
    phone         text CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    first_name    text,
    last_name     text,
    attributes    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (external_id IS NOT NULL OR email IS NOT NULL),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);
-- The upsert keys; `text_pattern_ops` so that the same indexes answer prefix searches.
CREATE UNIQUE INDEX customers_external_id_key
    ON customers (workspace_id, external_id text_pattern_ops) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX customers_email_key
    ON customers (workspace_id, email text_pattern_ops) WHERE email IS NOT NULL;
-- Keyset paging: (created_at, id) after the cursor.
CREATE INDEX customers_page_idx ON customers (workspace_id, created_at, id);
-- Name prefix search: "first last" and "last".
CREATE INDEX customers_name_idx ON customers
    (workspace_id, lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '')) text_pattern_ops);
CREATE INDEX customers_last_name_idx ON customers (workspace_id, lower(last_name) text_pattern_ops);

CREATE TABLE customer_groups (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_groups_name_key UNIQUE (workspace_id, name),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_groups_page_idx ON customer_groups (workspace_id, created_at, id);

CREATE TABLE customer_group_members (
    group_id     uuid NOT NULL REFERENCES customer_groups (id) ON DELETE CASCADE,
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    account_id   uuid NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, customer_id)
);
CREATE INDEX customer_group_members_customer_idx ON customer_group_members (customer_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['profile_fields', 'customers', 'customer_groups',
                             'customer_group_members']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO access_user '
            'USING (account_id = app.current_account_id()) '
            'WITH CHECK (account_id = app.current_account_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO access_user', t);
    END LOOP;
END
$$;

-- Whether text is a calendar date (checked when a profile field becomes a date field).
CREATE FUNCTION app.is_date(value text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
BEGIN
    PERFORM value::date;
    RETURN value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';
EXCEPTION WHEN others THEN
    RETURN false;
END
$$;
