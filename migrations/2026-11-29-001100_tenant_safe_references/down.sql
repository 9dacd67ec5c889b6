-- Back to the single-column references of 2026-11-23 (names and ON DELETE unchanged).
ALTER TABLE sessions
    DROP CONSTRAINT sessions_api_key_id_fkey,
    ADD CONSTRAINT sessions_api_key_id_fkey FOREIGN KEY (api_key_id)
        REFERENCES api_keys (id) ON DELETE CASCADE;
ALTER TABLE refresh_tokens
    DROP CONSTRAINT refresh_tokens_session_id_fkey,
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE;
ALTER TABLE customer_group_members
    DROP CONSTRAINT customer_group_members_customer_id_fkey,
    DROP CONSTRAINT customer_group_members_group_id_fkey,
    ADD CONSTRAINT customer_group_members_customer_id_fkey FOREIGN KEY (customer_id)
        REFERENCES customers (id) ON DELETE CASCADE,
    ADD CONSTRAINT customer_group_members_group_id_fkey FOREIGN KEY (group_id)
        REFERENCES customer_groups (id) ON DELETE CASCADE;
ALTER TABLE campaign_groups
    DROP CONSTRAINT campaign_groups_campaign_id_fkey,
    DROP CONSTRAINT campaign_groups_group_id_fkey,
    ADD CONSTRAINT campaign_groups_campaign_id_fkey FOREIGN KEY (campaign_id)
        REFERENCES campaigns (id) ON DELETE CASCADE,
    ADD CONSTRAINT campaign_groups_group_id_fkey FOREIGN KEY (group_id)
        REFERENCES customer_groups (id) ON DELETE CASCADE;
ALTER TABLE campaign_messages
    DROP CONSTRAINT campaign_messages_customer_id_fkey,
    ADD CONSTRAINT campaign_messages_customer_id_fkey FOREIGN KEY (customer_id)
        REFERENCES customers (id) ON DELETE CASCADE;

ALTER TABLE campaigns DROP CONSTRAINT campaigns_account_id_id_key;
ALTER TABLE customer_groups DROP CONSTRAINT customer_groups_account_id_id_key;
ALTER TABLE customers DROP CONSTRAINT customers_account_id_id_key;
ALTER TABLE sessions DROP CONSTRAINT sessions_account_id_id_key;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_account_id_id_key;
