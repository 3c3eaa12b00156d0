//! Persistence: one schema on SQLite or PostgreSQL.
