//! Keyset pagination: the statements of one paginated list, running them, and reading the
//! children (memberships, secrets) of a page of parents.

use super::*;

/// The statements of one paginated list: `base` is `FROM … WHERE <filter>` using `$1..$n`.
pub(super) struct ListSql {
    pub(super) after: String,
    pub(super) before: String,
    pub(super) exists_after: String,
    pub(super) exists_before: String,
    pub(super) count: String,
}

impl ListSql {
    pub(super) fn new(cols: &str, base: &str, n_filter_params: usize, seq: &str) -> Self {
        let (a, b) = (n_filter_params + 1, n_filter_params + 2);
        ListSql {
            after: format!("SELECT {cols} {base} AND {seq} > ${a} ORDER BY {seq} ASC LIMIT ${b}"),
            before: format!("SELECT {cols} {base} AND {seq} < ${a} ORDER BY {seq} DESC LIMIT ${b}"),
            exists_after: format!("SELECT 1 {base} AND {seq} > ${a} LIMIT 1"),
            exists_before: format!("SELECT 1 {base} AND {seq} < ${a} LIMIT 1"),
            count: format!("SELECT COUNT(*) AS n {base}"),
        }
    }
}

/// Runs a keyset-paginated list. Every selected row has its `seq`; `decode` reads the rest.
pub(super) async fn run_list<C: Conn, T>(
    c: &mut C,
    sql: &'static ListSql,
    filter: &[P<'_>],
    cursor: Cursor,
    size: u32,
    decode: impl Fn(Row) -> Result<T>,
) -> Result<Page<T>> {
    let (stmt, bound, backwards) = match cursor {
        Cursor::First => (&sql.after, 0, false),
        Cursor::After(s) => (&sql.after, s, false),
        Cursor::Before(s) => (&sql.before, s, true),
    };
    let mut params = filter.to_vec();
    params.push(P::I64(bound));
    params.push(P::I64(size as i64 + 1));
    let rows = c.query(stmt.as_str(), &params).await?;
    let more = rows.len() > size as usize;
    let mut items = Vec::with_capacity(rows.len().min(size as usize));
    for mut row in rows.into_iter().take(size as usize) {
        items.push((row.i64("seq")?, decode(row)?));
    }
    if backwards {
        items.reverse();
    }
    let (has_before, has_after) = match cursor {
        Cursor::First => (false, more),
        Cursor::After(s) => {
            let at = items.first().map_or(s + 1, |(seq, _)| *seq);
            (exists(c, sql.exists_before.as_str(), filter, at).await?, more)
        }
        Cursor::Before(s) => {
            let at = items.last().map_or(s - 1, |(seq, _)| *seq);
            (more, exists(c, sql.exists_after.as_str(), filter, at).await?)
        }
    };
    let total = count(c.query(sql.count.as_str(), filter).await?)?;
    Ok(Page {
        items,
        has_before,
        has_after,
        total,
    })
}

/// A record whose children (a user's memberships, a client's secrets) are read by a second
/// query, in rows `parent id, child…`.
pub(super) trait Parent: Sized {
    type Child;
    fn from_row(r: Row) -> Result<Self>;
    fn child_from_row(r: Row) -> Result<(String, Self::Child)>;
    fn id(&self) -> &str;
    fn children(&mut self) -> &mut Vec<Self::Child>;
}

/// A page of an organization's parents with their children: the page, then one query for the
/// children of every parent on it. `children_sql` selects the children of organization `$1`
/// whose parent `seq` is within `$2..=$3`.
pub(super) async fn list_with_children<C: Conn, T: Parent>(
    c: &mut C,
    sql: &'static ListSql,
    children_sql: &'static str,
    org_id: &str,
    cursor: Cursor,
    size: u32,
) -> Result<Page<T>> {
    let mut page = run_list(c, sql, &[P::Text(org_id)], cursor, size, T::from_row).await?;
    if let (Some((lo, _)), Some((hi, _))) = (page.items.first(), page.items.last()) {
        let rows = c
            .query(children_sql, &[P::Text(org_id), P::I64(*lo), P::I64(*hi)])
            .await?;
        attach(page.items.iter_mut().map(|(_, item)| item), rows)?;
    }
    Ok(page)
}

/// Sets the children of `parents` from `parent id, child…` rows.
pub(super) fn attach<'p, T: Parent + 'p>(
    parents: impl IntoIterator<Item = &'p mut T>,
    rows: Vec<Row>,
) -> Result<()> {
    let mut by_parent: BTreeMap<String, Vec<T::Child>> = BTreeMap::new();
    for row in rows {
        let (parent_id, child) = T::child_from_row(row)?;
        by_parent.entry(parent_id).or_default().push(child);
    }
    for parent in parents {
        *parent.children() = by_parent.remove(parent.id()).unwrap_or_default();
    }
    Ok(())
}

pub(super) async fn exists<C: Conn>(
    c: &mut C,
    stmt: &'static str,
    filter: &[P<'_>],
    at: i64,
) -> Result<bool> {
    let mut params = filter.to_vec();
    params.push(P::I64(at));
    Ok(!c.query(stmt, &params).await?.is_empty())
}
