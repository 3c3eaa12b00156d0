//! Printing: JSON (`--json`) or aligned, human-readable text.

use std::fmt::Write as _;
use std::io::Write as _;

use authgate_core::Error;
use authgate_core::authority::EnvironmentCredential;
use authgate_core::model::{
    AccessTokenResponse, ClientSecret, CreateOrganizationClientResponse,
    CreateOrganizationClientSecretResponse, CreateTokenResponse, ListAuditEventsResponse,
    ListOrganizationClientsResponse, ListOrganizationsResponse, ListTokensResponse, M2MClient, Organization,
    SigningKeyInfo, SigningKeyState, TokenInfo, User,
};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where results go.
pub(crate) struct Out {
    json: bool,
}

impl Out {
    pub(crate) fn new(json: bool) -> Self {
        Out { json }
    }

    /// Prints `value` as JSON, or the text `human` renders.
    pub(crate) fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) -> Result<(), Error> {
        let text = if self.json {
            let mut s = serde_json::to_string_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
            s.push('\n');
            s
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::Internal(format!("cannot write to stdout: {e}")))
    }
}

fn ts(t: &OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn opt_ts(t: &Option<OffsetDateTime>) -> String {
    t.as_ref().map_or_else(|| "-".to_owned(), ts)
}

fn or_dash(s: Option<&str>) -> &str {
    match s {
        Some(s) if !s.is_empty() => s,
        _ => "-",
    }
}

/// `label: value` lines with the values aligned.
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn new() -> Self {
        Fields(Vec::new())
    }

    fn add(mut self, label: &'static str, value: impl Into<String>) -> Self {
        self.0.push((label, value.into()));
        self
    }

    /// A line only when there is a value (authgate extensions, absent when unused).
    fn add_some(self, label: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.add(label, v),
            None => self,
        }
    }

    fn render(&self) -> String {
        let width = self.0.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
        let mut out = String::new();
        for (label, value) in &self.0 {
            let _ = writeln!(out, "{:<width$} {value}", format!("{label}:"));
        }
        out
    }
}

/// A table with a header row; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                let _ = writeln!(out, "{cell}");
            } else {
                let _ = write!(out, "{cell:<w$}  ", w = widths[i]);
            }
        }
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The table of one page of a list, then how many rows there are in all and the page tokens.
fn paged_table(header: &[&str], rows: &[Vec<String>], total: u32, next: &str, prev: &str) -> String {
    let mut out = table(header, rows);
    let _ = writeln!(out, "({} shown, {total} in all)", rows.len());
    if !prev.is_empty() {
        let _ = writeln!(out, "previous page: --page-token {prev}");
    }
    if !next.is_empty() {
        let _ = writeln!(out, "next page:     --page-token {next}");
    }
    out
}

pub(crate) fn organization(o: &Organization) -> String {
    Fields::new()
        .add("id", &o.id)
        .add("display_name", &o.display_name)
        .add("external_id", or_dash(o.external_id.as_deref()))
        .add("create_time", ts(&o.create_time))
        .render()
}

pub(crate) fn organizations(page: &ListOrganizationsResponse) -> String {
    let rows: Vec<Vec<String>> = page
        .organizations
        .iter()
        .map(|o| {
            vec![
                o.id.clone(),
                or_dash(o.external_id.as_deref()).to_owned(),
                ts(&o.create_time),
                o.display_name.clone(),
            ]
        })
        .collect();
    paged_table(
        &["ID", "EXTERNAL_ID", "CREATED", "NAME"],
        &rows,
        page.total_size,
        &page.next_page_token,
        &page.prev_page_token,
    )
}

pub(crate) fn user(u: &User) -> String {
    let memberships: Vec<String> = u
        .memberships
        .iter()
        .map(|m| {
            let roles: Vec<&str> = m.roles.iter().map(|r| r.name.as_str()).collect();
            if roles.is_empty() {
                m.organization_id.clone()
            } else {
                format!("{} ({})", m.organization_id, roles.join(", "))
            }
        })
        .collect();
    Fields::new()
        .add("id", &u.id)
        .add("email", &u.email)
        .add("external_id", or_dash(u.external_id.as_deref()))
        .add("memberships", memberships.join("; "))
        .render()
}

pub(crate) fn token_info(t: &TokenInfo) -> String {
    let claims: Vec<String> = t.custom_claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Fields::new()
        .add("token_id", &t.token_id)
        .add("organization_id", &t.organization_id)
        .add(
            "organization_external_id",
            or_dash(Some(&t.organization_external_id)),
        )
        .add("user_id", or_dash(t.user_id.as_deref()))
        .add("user_external_id", or_dash(t.user_external_id.as_deref()))
        .add("email", or_dash(t.email.as_deref()))
        .add("roles", or_dash(Some(&t.roles.join(", "))))
        .add("custom_claims", or_dash(Some(&claims.join(", "))))
        .add("description", or_dash(t.description.as_deref()))
        .add("token_suffix", &t.token_suffix)
        .add("expiry", opt_ts(&t.expiry))
        .add("created_at", ts(&t.created_at))
        .add_some("rotated_from", t.rotated_from.as_deref())
        .add_some("rotated_to", t.rotated_to.as_deref())
        .add_some("revoked_at", t.revoked_at.as_ref().map(ts).as_deref())
        .add_some("last_used_time", t.last_used_time.as_ref().map(ts).as_deref())
        .add_some(
            "allowed_cidrs",
            t.allowed_cidrs.as_ref().map(|l| l.join(", ")).as_deref(),
        )
        .add_some(
            "rate_limit",
            t.rate_limit
                .map(|r| format!("{} per {} s", r.limit, r.window_seconds))
                .as_deref(),
        )
        .render()
}

pub(crate) fn created_key(c: &CreateTokenResponse) -> String {
    format!(
        "token: {}\n(shown once: store it now; only its digest is kept)\n\n{}",
        c.token.expose(),
        token_info(&c.token_info)
    )
}

/// The keys of a page; a REVOKED column when the page has a revoked key (`--include-revoked`).
pub(crate) fn tokens(page: &ListTokensResponse) -> String {
    let revoked_column = page.tokens.iter().any(|t| t.revoked_at.is_some());
    let rows: Vec<Vec<String>> = page
        .tokens
        .iter()
        .map(|t| {
            let mut row = vec![
                t.token_id.clone(),
                or_dash(t.user_id.as_deref()).to_owned(),
                format!("…{}", t.token_suffix),
                opt_ts(&t.expiry),
                ts(&t.created_at),
                opt_ts(&t.last_used_time),
            ];
            if revoked_column {
                row.push(opt_ts(&t.revoked_at));
            }
            row.push(or_dash(t.description.as_deref()).to_owned());
            row
        })
        .collect();
    let header: &[&str] = if revoked_column {
        &[
            "TOKEN_ID",
            "USER_ID",
            "KEY",
            "EXPIRY",
            "CREATED",
            "LAST_USED",
            "REVOKED",
            "DESCRIPTION",
        ]
    } else {
        &[
            "TOKEN_ID",
            "USER_ID",
            "KEY",
            "EXPIRY",
            "CREATED",
            "LAST_USED",
            "DESCRIPTION",
        ]
    };
    paged_table(
        header,
        &rows,
        page.total_count,
        &page.next_page_token,
        &page.prev_page_token,
    )
}

fn secrets(list: &[ClientSecret]) -> String {
    list.iter()
        .map(|s| {
            format!(
                "{} (…{}, created {}, last used {})",
                s.id,
                s.secret_suffix,
                ts(&s.create_time),
                opt_ts(&s.last_used_time)
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

pub(crate) fn client(c: &M2MClient) -> String {
    let claims: Vec<String> = c
        .custom_claims
        .iter()
        .map(|cc| format!("{}={}", cc.key, cc.value))
        .collect();
    let fields = Fields::new()
        .add("client_id", &c.client_id)
        .add("organization_id", &c.organization_id)
        .add("name", &c.name)
        .add("description", or_dash(Some(&c.description)))
        .add("scopes", or_dash(Some(&c.scopes.join(" "))))
        .add("audience", or_dash(Some(&c.audience.join(" "))))
        .add("custom_claims", or_dash(Some(&claims.join(", "))))
        .add("expiry", format!("{} s", c.expiry))
        .add("create_time", ts(&c.create_time))
        .add("update_time", ts(&c.update_time))
        .render();
    format!("{fields}secrets:\n  {}\n", secrets(&c.secrets))
}

pub(crate) fn created_client(c: &CreateOrganizationClientResponse) -> String {
    format!(
        "client_id:     {}\nclient_secret: {}\n(the secret is shown once: store it now)\n\n{}",
        c.client.client_id,
        c.plain_secret.expose(),
        client(&c.client)
    )
}

pub(crate) fn clients(page: &ListOrganizationClientsResponse) -> String {
    let rows: Vec<Vec<String>> = page
        .clients
        .iter()
        .map(|c| {
            vec![
                c.client_id.clone(),
                c.secrets.len().to_string(),
                format!("{} s", c.expiry),
                or_dash(Some(&c.scopes.join(" "))).to_owned(),
                c.name.clone(),
            ]
        })
        .collect();
    paged_table(
        &["CLIENT_ID", "SECRETS", "EXPIRY", "SCOPES", "NAME"],
        &rows,
        page.total_size,
        &page.next_page_token,
        &page.prev_page_token,
    )
}

pub(crate) fn created_secret(c: &CreateOrganizationClientSecretResponse) -> String {
    format!(
        "secret_id:     {}\nclient_secret: {}\n(shown once: store it now)\n",
        c.secret.id,
        c.plain_secret.expose()
    )
}

pub(crate) fn signing_keys(keys: &[SigningKeyInfo]) -> String {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.algorithm.clone(),
                key_state(k.state).to_owned(),
                if k.encrypted { "yes" } else { "no" }.to_owned(),
                ts(&k.created_at),
                ts(&k.activate_at),
                opt_ts(&k.retired_at),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no signing keys yet (one is created on first use, or by `signing-keys rotate`)\n".into();
    }
    table(
        &[
            "KID",
            "ALG",
            "STATE",
            "ENCRYPTED",
            "CREATED",
            "ACTIVE_FROM",
            "RETIRED",
        ],
        &rows,
    )
}

fn key_state(state: SigningKeyState) -> &'static str {
    match state {
        SigningKeyState::Pending => "pending",
        SigningKeyState::Active => "active",
        SigningKeyState::Published => "published",
        SigningKeyState::Retired => "retired",
    }
}

/// The outcome of `signing-keys rotate`.
pub(crate) fn rotated(k: &SigningKeyInfo) -> String {
    match k.state {
        SigningKeyState::Pending => {
            let wait_ms = (k.activate_at - OffsetDateTime::now_utc())
                .whole_milliseconds()
                .max(0);
            let wait = (wait_ms + 500) / 1000;
            format!(
                "rotated: {} is pending: published in the JWKS now, it becomes the active signing key at {} (in {wait} s)\n",
                k.kid,
                ts(&k.activate_at)
            )
        }
        state => format!("rotated: {} is now {}\n", k.kid, key_state(state)),
    }
}

pub(crate) fn access_token(t: &AccessTokenResponse) -> String {
    Fields::new()
        .add("access_token", t.access_token.expose())
        .add("token_type", &t.token_type)
        .add("expires_in", t.expires_in.to_string())
        .add("scope", or_dash(Some(&t.scope)))
        .render()
}

/// The environment credentials, one line each.
pub(crate) fn environment_credentials(list: &[EnvironmentCredential]) -> String {
    let mut out = String::new();
    for c in list {
        let state = match &c.revoke_time {
            None => "live".to_owned(),
            Some(t) => format!("revoked {}", ts(t)),
        };
        let _ = writeln!(
            out,
            "{}  …{}  created {}  last used {}  {state}",
            c.client_id,
            c.secret_suffix,
            ts(&c.create_time),
            opt_ts(&c.last_used_time)
        );
    }
    if list.is_empty() {
        out.push_str("no environment credentials\n");
    }
    out
}

/// A new environment credential with its secret (shown once).
pub(crate) fn created_environment_credential(c: &EnvironmentCredential, secret: &str) -> String {
    let mut out = Fields::new()
        .add("client_id", c.client_id.clone())
        .add("client_secret", secret)
        .render();
    out.push_str("the secret is shown once: store it now\n");
    out
}

pub(crate) fn audit_events(page: &ListAuditEventsResponse) -> String {
    let rows: Vec<Vec<String>> = page
        .events
        .iter()
        .map(|e| {
            vec![
                ts(&e.time),
                e.actor.clone(),
                e.action.clone(),
                or_dash(e.organization_id.as_deref()).to_owned(),
                if e.target_ids.is_empty() {
                    "-".to_owned()
                } else {
                    e.target_ids.join(",")
                },
                or_dash(e.source_address.as_deref()).to_owned(),
                match &e.error_code {
                    Some(code) => format!("{} ({code})", e.outcome.as_str()),
                    None => e.outcome.as_str().to_owned(),
                },
            ]
        })
        .collect();
    paged_table(
        &[
            "TIME",
            "ACTOR",
            "ACTION",
            "ORGANIZATION",
            "TARGETS",
            "SOURCE",
            "OUTCOME",
        ],
        &rows,
        page.total_size,
        &page.next_page_token,
        &page.prev_page_token,
    )
}
