//! The audit log: its statements, the write wrapper that records an action's event in the
//! action's transaction, and the log's own `Store` operations.

use super::*;

pub(super) const AUDIT_INSERT: &str = "INSERT INTO authgate_audit_events \
     (id, time, actor, action, organization_id, target_ids, source_address, outcome, error_code) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Deletes a batch of the oldest events before `$1` (at most `$2`): short transactions, so a
/// large backlog never holds SQLite's write lock for long.
pub(super) const AUDIT_PRUNE: &str = "DELETE FROM authgate_audit_events WHERE seq IN \
     (SELECT seq FROM authgate_audit_events WHERE time < $1 ORDER BY seq LIMIT $2)";

pub(super) static AUDIT_LIST: LazyLock<ListSql> = LazyLock::new(|| {
    ListSql::new(
        "seq, id, time, actor, action, organization_id, target_ids, source_address, outcome, error_code",
        "FROM authgate_audit_events WHERE ($1 IS NULL OR organization_id = $1) \
         AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
         AND ($4 IS NULL OR time >= $4) AND ($5 IS NULL OR time < $5)",
        5,
        "seq",
    )
});

impl SqlEnum for AuditOutcome {
    fn as_sql(self) -> &'static str {
        self.as_str()
    }

    fn from_sql(text: &str) -> Option<Self> {
        [AuditOutcome::Success, AuditOutcome::Failure]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

fn audit_from_row(mut r: Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: r.text("id")?,
        time: time_from_ms(r.i64("time")?)?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        organization_id: r.opt_text("organization_id")?,
        target_ids: json(&r.text("target_ids")?, "target_ids")?,
        source_address: r.opt_text("source_address")?,
        outcome: r.enumerated("outcome")?,
        error_code: r.opt_text("error_code")?,
    })
}

/// Writes `event` on `c` (inside whatever transaction `c` is in).
pub(super) async fn insert_audit<C: Conn>(c: &mut C, event: &AuditRecord) -> Result<()> {
    let targets = serde_json::to_string(&event.target_ids).map_err(|e| Error::Internal(e.to_string()))?;
    c.execute(
        AUDIT_INSERT,
        &[
            P::Text(&event.id),
            P::I64(event.time_ms),
            P::Text(&event.actor),
            P::Text(event.action),
            (&event.organization_id).into(),
            P::Text(&targets),
            (&event.source_address).into(),
            P::Text(event.outcome.as_sql()),
            event.error_code.into(),
        ],
    )
    .await?;
    Ok(())
}

// What `SqlStore::audited` asks of a write's result: did the action happen (then the event is
// written), after adding to the event the ids the write settled.

/// Every successful write is the action.
pub(super) fn always<R>(_: &R, _: &mut AuditRecord) -> bool {
    true
}

/// `true` when the write did it (`false`: there was nothing to do it to).
pub(super) fn done(did: &bool, _: &mut AuditRecord) -> bool {
    *did
}

/// The record written, when there was one.
pub(super) fn found<T>(row: &Option<T>, _: &mut AuditRecord) -> bool {
    row.is_some()
}

/// A user the write resolved (by id or external id) is the target.
pub(super) fn user_target(user: &User, a: &mut AuditRecord) -> bool {
    a.add_target(&user.id)
}

pub(super) fn found_user(user: &Option<User>, a: &mut AuditRecord) -> bool {
    user.as_ref().is_some_and(|u| a.add_target(&u.id))
}

pub(super) fn deleted_user(id: &Option<String>, a: &mut AuditRecord) -> bool {
    id.as_ref().is_some_and(|id| a.add_target(id))
}

#[allow(clippy::ptr_arg)] // the shape of `happened`: a reference to the write's result
pub(super) fn removed_member(user_id: &String, a: &mut AuditRecord) -> bool {
    a.add_target(user_id)
}

/// An updated key: its organization is the event's.
pub(super) fn found_key(key: &Option<TokenInfo>, a: &mut AuditRecord) -> bool {
    key.as_ref().is_some_and(|k| {
        a.organization_id = Some(k.organization_id.clone());
        true
    })
}

/// A key rotation that happened: the new key joins the old one as a target, and its
/// organization is the event's.
pub(super) fn rotated_key(r: &KeyRotation, a: &mut AuditRecord) -> bool {
    match r {
        KeyRotation::Done(info) => {
            a.organization_id = Some(info.organization_id.clone());
            a.add_target(&info.token_id)
        }
        _ => false,
    }
}

/// The credentials revoked are the targets; none revoked, nothing happened.
#[allow(clippy::ptr_arg)] // the shape of `happened`: a reference to the write's result
pub(super) fn revoked_others(ids: &Vec<String>, a: &mut AuditRecord) -> bool {
    a.target_ids.extend(ids.iter().cloned());
    !ids.is_empty()
}

/// A rotation that happened names the key now pending or active.
pub(super) fn rotated(r: &Rotation, a: &mut AuditRecord) -> bool {
    matches!(r, Rotation::Done(row) if a.add_target(&row.kid))
}

/// A write of a management action with its audit event: see `SqlStore::audited`.
pub(super) struct Audited<'s, B, H> {
    store: &'s SqlStore<B>,
    audit: AuditRecord,
    happened: H,
}

impl<B: Backend, H> Audited<'_, B, H> {
    /// Runs `work` in a transaction of `mode` (a write), then, when it succeeded and `happened`
    /// says the action took place, writes the event in the same transaction: an action that
    /// happened is always in the log, one that failed (rolled back) never is.
    ///
    /// Every management write may change what a validation answers (revocations, updates,
    /// rotations, deletions of users, memberships, organizations), so when it returns — done,
    /// refused or failed, committed or not — this process's validation cache is flushed: the
    /// process sees its own change at once, before its notification comes back.
    pub(super) async fn run<R, F>(self, mode: Mode, work: F) -> Result<R>
    where
        R: Send + 'static,
        H: FnOnce(&R, &mut AuditRecord) -> bool + Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, Result<R>> + Send + 'static,
    {
        let Audited {
            store,
            mut audit,
            happened,
        } = self;
        let result = store
            .b
            .run(mode, move |c| {
                Box::pin(async move {
                    let result = work(&mut *c).await?;
                    if happened(&result, &mut audit) {
                        insert_audit(c, &audit).await?;
                    }
                    Ok(result)
                })
            })
            .await;
        if let Some(cache) = store.b.key_cache() {
            cache.flush();
        }
        result
    }
}

impl<B: Backend> SqlStore<B> {
    /// `self.audited(event, happened).run(Mode::Write, work)`: the write `work` of a management
    /// action, recording `event` in its transaction when `happened` says it took place.
    pub(super) fn audited<H>(&self, audit: AuditRecord, happened: H) -> Audited<'_, B, H> {
        Audited {
            store: self,
            audit,
            happened,
        }
    }

    pub(super) async fn audit_insert(&self, event: AuditRecord) -> Result<()> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move { insert_audit(c, &event).await })
            })
            .await
    }

    pub(super) async fn audit_list(
        &self,
        f: AuditFilter,
        cursor: Cursor,
        size: u32,
    ) -> Result<Page<AuditEvent>> {
        self.b
            .run(Mode::Snapshot, move |c| {
                Box::pin(async move {
                    let filter = [
                        (&f.organization_id).into(),
                        (&f.actor).into(),
                        (&f.action).into(),
                        f.start_ms.into(),
                        f.end_ms.into(),
                    ];
                    run_list(c, &AUDIT_LIST, &filter, cursor, size, audit_from_row).await
                })
            })
            .await
    }

    pub(super) async fn audit_prune(&self, before_ms: i64, limit: u32) -> Result<u64> {
        self.b
            .run(Mode::Write, move |c| {
                Box::pin(async move {
                    c.execute(AUDIT_PRUNE, &[P::I64(before_ms), P::I64(limit.into())])
                        .await
                })
            })
            .await
    }
}
