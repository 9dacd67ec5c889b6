// @generated automatically by Diesel CLI.

diesel::table! {
    account_roles (user_id, role) {
        account_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    accounts (id) {
        id -> Uuid,
        account_id -> Nullable<Uuid>,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        account_id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        scopes -> Nullable<Text>,
        secret_digest -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        deleted_reason -> Nullable<Text>,
    }
}

diesel::table! {
    auth_events (id) {
        id -> Uuid,
        account_id -> Nullable<Uuid>,
        at -> Timestamptz,
        event -> Text,
        user_id -> Nullable<Uuid>,
        client_id -> Nullable<Uuid>,
        ip -> Nullable<Inet>,
        country -> Nullable<Text>,
        city -> Nullable<Text>,
        success -> Bool,
        failed_signin_attempts -> Int4,
        failed_validation_attempts -> Int4,
        detail -> Jsonb,
    }
}

diesel::table! {
    campaign_groups (campaign_id, group_id) {
        campaign_id -> Uuid,
        group_id -> Uuid,
        account_id -> Uuid,
    }
}

diesel::table! {
    campaign_messages (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        campaign_id -> Uuid,
        customer_id -> Uuid,
        sealed -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        name -> Text,
        description -> Text,
        channel -> Text,
        status -> Text,
        message_count -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customer_group_members (group_id, customer_id) {
        group_id -> Uuid,
        customer_id -> Uuid,
        account_id -> Uuid,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    customer_groups (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        external_id -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        attributes -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        account_id -> Uuid,
        to_address -> Text,
        subject -> Text,
        body -> Text,
        created_at -> Timestamptz,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        claimed_until -> Nullable<Timestamptz>,
        delivered_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        body_sealed -> Nullable<Bytea>,
    }
}

diesel::table! {
    email_verifications (user_id) {
        user_id -> Uuid,
        account_id -> Uuid,
        code_digest -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    invitations (user_id) {
        user_id -> Uuid,
        account_id -> Uuid,
        code_digest -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        accepted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    message_retrievals (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        campaign_id -> Uuid,
        user_id -> Uuid,
        session_id -> Uuid,
        retrieved_at -> Timestamptz,
        message_count -> Int4,
    }
}

diesel::table! {
    mfa_recovery_codes (code_digest) {
        code_digest -> Bytea,
        user_id -> Uuid,
        account_id -> Uuid,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    password_resets (user_id) {
        user_id -> Uuid,
        account_id -> Uuid,
        code_digest -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    profile_fields (id) {
        id -> Uuid,
        account_id -> Uuid,
        workspace_id -> Uuid,
        key -> Text,
        label -> Text,
        field_type -> Text,
        required -> Bool,
        options -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    rate_limit_hits (bucket, window_start) {
        bucket -> Text,
        window_start -> Timestamptz,
        hits -> Int4,
    }
}

diesel::table! {
    redeemed_mfa_tokens (id) {
        id -> Uuid,
        account_id -> Uuid,
        user_id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        account_id -> Uuid,
        session_id -> Uuid,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        account_id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        scope -> Text,
        api_key_id -> Nullable<Uuid>,
        ip -> Nullable<Inet>,
        country -> Nullable<Text>,
        last_seen_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_key -> Bytea,
        private_key_sealed -> Nullable<Bytea>,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
        activates_at -> Timestamptz,
    }
}

diesel::table! {
    user_mfa (user_id) {
        user_id -> Uuid,
        account_id -> Uuid,
        secret_sealed -> Bytea,
        created_at -> Timestamptz,
        enabled_at -> Nullable<Timestamptz>,
        last_used_step -> Nullable<Int8>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        account_id -> Uuid,
        email -> Text,
        full_name -> Text,
        password_hash -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        failed_signin_attempts -> Int4,
        failed_validation_attempts -> Int4,
        locked_until -> Nullable<Timestamptz>,
        email_verified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    workspace_customer_counts (workspace_id) {
        workspace_id -> Uuid,
        account_id -> Uuid,
        customers -> Int8,
    }
}

diesel::table! {
    workspace_data_keys (workspace_id) {
        workspace_id -> Uuid,
        account_id -> Uuid,
        master_key_id -> Text,
        wrapped_key -> Bytea,
        created_at -> Timestamptz,
        rewrapped_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    workspace_roles (user_id, workspace_id) {
        account_id -> Uuid,
        workspace_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Uuid,
        account_id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(auth_events -> accounts (account_id));
diesel::joinable!(email_outbox -> accounts (account_id));
diesel::joinable!(users -> accounts (account_id));
diesel::joinable!(workspaces -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_roles,
    accounts,
    api_keys,
    auth_events,
    campaign_groups,
    campaign_messages,
    campaigns,
    customer_group_members,
    customer_groups,
    customers,
    email_outbox,
    email_verifications,
    invitations,
    message_retrievals,
    mfa_recovery_codes,
    password_resets,
    profile_fields,
    rate_limit_hits,
    redeemed_mfa_tokens,
    refresh_tokens,
    sessions,
    signing_keys,
    user_mfa,
    users,
    workspace_customer_counts,
    workspace_data_keys,
    workspace_roles,
    workspaces,
);
