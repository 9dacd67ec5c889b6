-- Campaigns of a workspace and the groups they target; their messages, sealed; each
-- workspace's data key, wrapped under a message master key; the audit of message retrievals.

CREATE TABLE campaigns (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL,
    workspace_id   uuid NOT NULL,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    channel        text NOT NULL CHECK (channel IN ('email', 'sms', 'push', 'in_app')),
    status         text NOT NULL DEFAULT 'draft'
                   CHECK (status IN ('draft', 'active', 'paused', 'completed')),
    -- Messages stored now: raised by each publish, lowered by the trigger below.
    message_count  bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT campaigns_workspace_id_key UNIQUE (account_id, workspace_id, id),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);
-- Lists (per workspace) and searches (per account): newest first, by keyset.
CREATE INDEX campaigns_page_idx ON campaigns (workspace_id, created_at DESC, id DESC);
CREATE INDEX campaigns_account_page_idx ON campaigns (account_id, created_at DESC, id DESC);

CREATE TABLE campaign_groups (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    group_id     uuid NOT NULL REFERENCES customer_groups (id) ON DELETE CASCADE,
    account_id   uuid NOT NULL,
    PRIMARY KEY (campaign_id, group_id)
);
CREATE INDEX campaign_groups_group_idx ON campaign_groups (group_id);

CREATE TABLE campaign_messages (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    campaign_id   uuid NOT NULL,
    -- Deleting a customer deletes the messages written for them.
    customer_id   uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    -- version || nonce || AES-256-GCM(subject, body, metadata) || tag, under a key derived from
    -- the workspace's data key and the message id; bound to workspace, campaign and message ids.
    sealed        bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (account_id, workspace_id, campaign_id)
        REFERENCES campaigns (account_id, workspace_id, id) ON DELETE CASCADE
);
-- Retrieval pages: oldest first, by keyset.
CREATE INDEX campaign_messages_page_idx ON campaign_messages (campaign_id, created_at, id);
CREATE INDEX campaign_messages_customer_idx ON campaign_messages (customer_id);

-- Messages deleted by any path (a customer's deletion cascading here) leave the count right.
CREATE FUNCTION app.uncount_campaign_messages() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE campaigns c SET message_count = c.message_count - gone.n
    FROM (SELECT campaign_id, count(*) AS n FROM gone_messages GROUP BY campaign_id) gone
    WHERE c.id = gone.campaign_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER campaign_messages_uncount AFTER DELETE ON campaign_messages
    REFERENCING OLD TABLE AS gone_messages
    FOR EACH STATEMENT EXECUTE FUNCTION app.uncount_campaign_messages();

-- One data key per workspace, sealed (AES-256-GCM) under the master key `master_key_id` names.
CREATE TABLE workspace_data_keys (
    workspace_id   uuid PRIMARY KEY,
    account_id     uuid NOT NULL,
    master_key_id  text NOT NULL CHECK (master_key_id ~ '^[0-9a-f]{16}$'),
    wrapped_key    bytea NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    rewrapped_at   timestamptz,
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);
CREATE INDEX workspace_data_keys_master_idx ON workspace_data_keys (master_key_id, workspace_id);

-- Append-only audit of message retrievals: who read which campaign's messages, how many. No
-- reference to the campaign or the user, so that the record outlives both.
CREATE TABLE message_retrievals (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL,
    workspace_id   uuid NOT NULL,
    campaign_id    uuid NOT NULL,
    user_id        uuid NOT NULL,
    session_id     uuid NOT NULL,
    retrieved_at   timestamptz NOT NULL DEFAULT now(),
    message_count  integer NOT NULL CHECK (message_count >= 0),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE
);
CREATE INDEX message_retrievals_campaign_idx ON message_retrievals (campaign_id, retrieved_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['campaigns', 'campaign_groups', 'campaign_messages',
                             'workspace_data_keys', 'message_retrievals']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO access_user '
            'USING (account_id = app.current_account_id()) '
            'WITH CHECK (account_id = app.current_account_id())', t);
    END LOOP;
    -- Master-key rotation (`nudgescribe keys rotate-master`) re-wraps every account's data key
    -- as the server's own login role, the role running this migration.
    EXECUTE format(
        'CREATE POLICY master_key_rotation ON workspace_data_keys TO %I USING (true) WITH CHECK (true)',
        current_user);
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON campaigns, campaign_groups, campaign_messages TO access_user;
-- Requests create a workspace's data key and read it; only rotation changes it.
GRANT SELECT, INSERT ON workspace_data_keys TO access_user;
-- The retrieval audit is append-only for the application.
GRANT SELECT, INSERT ON message_retrievals TO access_user;
