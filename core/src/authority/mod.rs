//! The authority: organizations, users, API keys, M2M clients, signing keys, token issuance.
