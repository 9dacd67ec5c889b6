DROP TABLE IF EXISTS mfa_recovery_codes; DROP TABLE IF EXISTS user_mfa;
