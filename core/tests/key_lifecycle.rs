//! The API-key lifecycle beyond Scalekit (issue #13): listing revoked keys, rotation with a grace
//! period, last-used time, IP allowlists and per-key rate limits — on SQLite and (when
//! `AUTHGATE_TEST_DATABASE_URL` is set) PostgreSQL.

mod common;

use std::collections::BTreeMap;

use authgate_core::authority::{Authority, AuthorityConfig};
use authgate_core::model::{
    CreateOrganization, CreateToken, CreateTokenResponse, CreateUser, ListAuditEvents, ListTokens,
    ListTokensResponse, RateLimit, RotateToken, UpdateToken, ValidateOptions,
};
use authgate_core::{AuthApi, Error};
use common::TestDb;
use time::{Duration, OffsetDateTime};

on_both!(
    listing_can_include_revoked_keys,
    rotation_keeps_the_old_key_for_the_grace_period,
    rotation_without_grace_revokes_at_once,
    rotation_refusals_change_nothing,
    last_use_is_coalesced_and_listed,
    networks_restrict_where_a_key_validates,
    rate_limits_count_valid_uses,
    settings_are_omitted_when_unused,
);

async fn org(a: &Authority) -> String {
    a.create_organization(CreateOrganization {
        display_name: "Acme".into(),
        external_id: None,
    })
    .await
    .unwrap()
    .id
}

async fn key(a: &Authority, org_id: &str) -> CreateTokenResponse {
    a.create_token(CreateToken {
        organization_id: org_id.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn list(a: &Authority, org_id: &str, include_revoked: bool) -> ListTokensResponse {
    a.list_tokens(ListTokens {
        organization_id: org_id.into(),
        include_revoked,
        ..Default::default()
    })
    .await
    .unwrap()
}

fn ids(page: &ListTokensResponse) -> Vec<&str> {
    page.tokens.iter().map(|t| t.token_id.as_str()).collect()
}

fn rotate(token: &str, grace: Option<i64>) -> RotateToken {
    RotateToken {
        token: token.into(),
        grace_period_seconds: grace,
        ..Default::default()
    }
}

/// Time passing, without waiting: the grace period of `old` ends now.
async fn grace_ends(db: &TestDb, old: &str) {
    let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64 - 1;
    db.exec(&format!(
        "UPDATE authgate_api_keys SET revoked_at = {now_ms}, expiry = {now_ms} WHERE id = '{old}'"
    ))
    .await;
}

async fn listing_can_include_revoked_keys(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let live = key(&a, &o).await;
    let gone = key(&a, &o).await;
    let before = OffsetDateTime::now_utc() - Duration::seconds(1);
    a.invalidate_token(&gone.token_id).await.unwrap();

    let page = list(&a, &o, false).await;
    assert_eq!(ids(&page), [live.token_id.as_str()]);
    assert_eq!(page.total_count, 1);
    assert!(page.tokens[0].revoked_at.is_none());

    let page = list(&a, &o, true).await;
    assert_eq!(ids(&page), [live.token_id.as_str(), gone.token_id.as_str()]);
    assert_eq!(page.total_count, 2);
    assert!(page.tokens[0].revoked_at.is_none());
    let revoked_at = page.tokens[1].revoked_at.expect("revoked_at of a revoked key");
    assert!(revoked_at >= before && revoked_at <= OffsetDateTime::now_utc());

    // Omitted from JSON when unset: a live key's record is Scalekit-shaped.
    let json = serde_json::to_value(&page.tokens[0]).unwrap();
    for field in ["revoked_at", "rotated_from", "rotated_to", "last_used_time"] {
        assert!(json.get(field).is_none(), "{field} in {json}");
    }
    assert!(serde_json::to_value(&page.tokens[1]).unwrap()["revoked_at"].is_string());

    // Pages of the two lists are not interchangeable.
    let small = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            include_revoked: true,
            page_size: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!small.next_page_token.is_empty());
    let err = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            page_size: Some(1),
            page_token: Some(small.next_page_token.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    let next = a
        .list_tokens(ListTokens {
            organization_id: o.clone(),
            include_revoked: true,
            page_size: Some(1),
            page_token: Some(small.next_page_token),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&next), [gone.token_id.as_str()]);
}

async fn rotation_keeps_the_old_key_for_the_grace_period(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let u = a
        .create_user_and_membership(
            &o,
            CreateUser {
                email: "ada@example.com".into(),
                roles: vec!["admin".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;
    let expiry = OffsetDateTime::now_utc() + Duration::days(30);
    let old = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            user_id: Some(u.clone()),
            custom_claims: BTreeMap::from([("team".to_owned(), "ops".to_owned())]),
            expiry: Some(expiry),
            description: Some("deploy bot".into()),
            ..Default::default()
        })
        .await
        .unwrap();

    let started = OffsetDateTime::now_utc();
    let new = a
        .rotate_token(rotate(old.token.expose(), Some(3600)))
        .await
        .unwrap();
    assert_ne!(new.token.expose(), old.token.expose());
    assert_ne!(new.token_id, old.token_id);
    let info = &new.token_info;
    assert_eq!(info.rotated_from.as_deref(), Some(old.token_id.as_str()));
    assert_eq!(info.rotated_to, None);
    assert_eq!(info.organization_id, o);
    assert_eq!(info.user_id.as_deref(), Some(u.as_str()));
    assert_eq!(info.custom_claims, old.token_info.custom_claims);
    assert_eq!(info.description.as_deref(), Some("deploy bot"));
    assert_eq!(info.expiry, old.token_info.expiry);
    assert_eq!(info.roles, ["admin"]);

    // During the grace period both keys validate; the old one shows where it went and when its
    // grace ends.
    let old_info = a.validate_token(old.token.expose()).await.unwrap();
    assert_eq!(old_info.rotated_to.as_deref(), Some(new.token_id.as_str()));
    let grace_end = old_info.expiry.expect("expiry = end of grace");
    assert!(grace_end >= started + Duration::seconds(3599));
    assert!(grace_end <= OffsetDateTime::now_utc() + Duration::seconds(3600));
    let new_info = a.validate_token(new.token.expose()).await.unwrap();
    assert_eq!(new_info.rotated_from.as_deref(), Some(old.token_id.as_str()));
    assert_eq!(list(&a, &o, false).await.total_count, 2);

    // The old key is still live: it can be updated during its grace period.
    a.update_token(UpdateToken {
        token: old.token_id.clone(),
        description: Some("retiring".into()),
        ..Default::default()
    })
    .await
    .unwrap();

    // Rotating it again is refused: rotate the new key instead.
    refused!(
        db,
        "failed_precondition",
        a.rotate_token(rotate(&old.token_id, None))
    );

    // After the grace period: refused, unlisted, listed as revoked with the time it ended.
    grace_ends(db, &old.token_id).await;
    a.sync_validation_cache().await;
    assert!(matches!(
        a.validate_token(old.token.expose()).await,
        Err(Error::TokenValidationFailed)
    ));
    assert!(matches!(
        a.lookup_token(&old.token_id).await,
        Err(Error::TokenValidationFailed)
    ));
    a.validate_token(new.token.expose()).await.unwrap();
    assert_eq!(ids(&list(&a, &o, false).await), [new.token_id.as_str()]);
    let all = list(&a, &o, true).await;
    assert!(all.tokens[0].revoked_at.is_some());
    refused!(db, "not_found", a.rotate_token(rotate(&old.token_id, None)));

    // A second instance on the same store (another node) agrees.
    let b = db.open().await;
    assert!(b.validate_token(old.token.expose()).await.is_err());
    b.validate_token(new.token.expose()).await.unwrap();

    // The new key rotates in turn, by id, with the default grace (a day).
    let third = a.rotate_token(rotate(&new.token_id, None)).await.unwrap();
    let new_after = a.lookup_token(&new.token_id).await.unwrap();
    let day = new_after.expiry.unwrap() - OffsetDateTime::now_utc();
    assert!(day > Duration::hours(23) && day <= Duration::days(1), "{day}");
    assert_eq!(
        third.token_info.rotated_from.as_deref(),
        Some(new.token_id.as_str())
    );
}

async fn rotation_without_grace_revokes_at_once(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let old = key(&a, &o).await;
    let new = a.rotate_token(rotate(&old.token_id, Some(0))).await.unwrap();
    assert!(a.validate_token(old.token.expose()).await.is_err());
    a.validate_token(new.token.expose()).await.unwrap();
    assert_eq!(ids(&list(&a, &o, false).await), [new.token_id.as_str()]);

    // An expiry earlier than the end of grace is kept.
    let soon = OffsetDateTime::now_utc() + Duration::minutes(5);
    let short = a
        .create_token(CreateToken {
            organization_id: o.clone(),
            expiry: Some(soon),
            ..Default::default()
        })
        .await
        .unwrap();
    a.rotate_token(rotate(&short.token_id, Some(86_400)))
        .await
        .unwrap();
    let info = a.lookup_token(&short.token_id).await.unwrap();
    assert_eq!(info.expiry, short.token_info.expiry);
}

async fn rotation_refusals_change_nothing(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let k = key(&a, &o).await;
    refused!(db, "invalid_argument", a.rotate_token(rotate("", None)));
    refused!(db, "invalid_argument", a.rotate_token(rotate("nope", None)));
    refused!(
        db,
        "invalid_argument",
        a.rotate_token(rotate(&k.token_id, Some(-1)))
    );
    refused!(
        db,
        "invalid_argument",
        a.rotate_token(rotate(&k.token_id, Some(2_592_001)))
    );
    refused!(
        db,
        "not_found",
        a.rotate_token(rotate("apit_0000000000000000000000000", None))
    );
    // An expired key: its copy would never validate.
    db.exec(&format!(
        "UPDATE authgate_api_keys SET expiry = 1000 WHERE id = '{}'",
        k.token_id
    ))
    .await;
    refused!(
        db,
        "failed_precondition",
        a.rotate_token(rotate(&k.token_id, None))
    );
    // A revoked key.
    let r = key(&a, &o).await;
    a.invalidate_token(&r.token_id).await.unwrap();
    refused!(db, "not_found", a.rotate_token(rotate(r.token.expose(), None)));
    refused!(db, "not_found", a.rotate_token(rotate(&r.token_id, None)));
}

async fn last_use_is_coalesced_and_listed(db: &TestDb) {
    let mut config = TestDb::config();
    config.usage_flush_interval = std::time::Duration::from_secs(1);
    let a = db.open_with(config).await.unwrap();
    let o = org(&a).await;
    let used = key(&a, &o).await;
    let idle = key(&a, &o).await;
    assert_eq!(used.token_info.last_used_time, None);

    let started = OffsetDateTime::now_utc();
    let writes_before = a.usage_writes();
    let n = 10_000;
    for _ in 0..n {
        a.validate_token(used.token.expose()).await.unwrap();
    }
    let elapsed = OffsetDateTime::now_utc() - started;
    a.flush_usage().await;
    let writes = a.usage_writes() - writes_before;
    // One row update per flush (every second, plus the final one), never one per validation.
    let bound = elapsed.whole_seconds() as u64 + 2;
    println!("{n} validations in {elapsed}: {writes} last_used_time writes (bound {bound})");
    assert!(
        writes >= 1 && writes <= bound,
        "{writes} writes for {n} validations in {elapsed}"
    );

    let info = a.lookup_token(&used.token_id).await.unwrap();
    let last = info.last_used_time.expect("last_used_time after a flush");
    assert!(last >= started - Duration::milliseconds(1) && last <= OffsetDateTime::now_utc());
    assert_eq!(a.lookup_token(&idle.token_id).await.unwrap().last_used_time, None);
    // The admin lookup by id is not a use.
    a.flush_usage().await;
    assert_eq!(a.lookup_token(&idle.token_id).await.unwrap().last_used_time, None);

    // unused_since: keys never used, or last used before the time.
    let unused = |t: OffsetDateTime| {
        a.list_tokens(ListTokens {
            organization_id: o.clone(),
            unused_since: Some(t),
            ..Default::default()
        })
    };
    let page = unused(started - Duration::minutes(1)).await.unwrap();
    assert_eq!(ids(&page), [idle.token_id.as_str()]);
    let page = unused(OffsetDateTime::now_utc() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(ids(&page), [used.token_id.as_str(), idle.token_id.as_str()]);
    assert!(page.tokens[0].last_used_time.is_some());

    // Another process's older flush never moves the time backwards.
    let b = db.open().await;
    db.exec(&format!(
        "UPDATE authgate_api_keys SET last_used_time = 4102444800000 WHERE id = '{}'",
        used.token_id
    ))
    .await;
    b.validate_token(used.token.expose()).await.unwrap();
    b.flush_usage().await;
    let kept = b
        .lookup_token(&used.token_id)
        .await
        .unwrap()
        .last_used_time
        .unwrap();
    assert_eq!(kept.unix_timestamp(), 4_102_444_800);

    // The interval is bounded.
    for bad in [0, 61] {
        let mut config = TestDb::config();
        config.usage_flush_interval = std::time::Duration::from_secs(bad);
        let err = db.open_with(config).await.unwrap_err();
        assert_eq!(err.code(), "invalid_argument");
    }
    let _ = AuthorityConfig::new("http://x.test");
}

fn from(ip: &str) -> ValidateOptions {
    ValidateOptions {
        client_ip: Some(ip.parse().unwrap()),
    }
}

fn cidrs(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|c| (*c).to_owned()).collect())
}

async fn networks_restrict_where_a_key_validates(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let restricted = |list: &[&str]| CreateToken {
        organization_id: o.clone(),
        allowed_cidrs: cidrs(list),
        ..Default::default()
    };
    // Bad networks are refused, naming the problem, and change nothing.
    for bad in [&[][..], &["10.0.0.1/8"], &["10.0.0.0/33"], &["example.com"]] {
        let err = refused!(db, "invalid_argument", a.create_token(restricted(bad)));
        assert!(err.to_string().contains("allowed_cidrs"), "{err}");
    }
    let too_many: Vec<String> = (0..51).map(|i| format!("10.0.{i}.0/24")).collect();
    let many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    refused!(db, "invalid_argument", a.create_token(restricted(&many)));

    let k = a
        .create_token(restricted(&[
            "10.0.0.0/8",
            " 2001:DB8::/32",
            "10.0.0.0/8",
            "192.0.2.7",
        ]))
        .await
        .unwrap();
    // Canonical, duplicates dropped, order kept.
    assert_eq!(
        k.token_info.allowed_cidrs,
        cidrs(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"])
    );
    let key = k.token.expose();
    for inside in ["10.1.2.3", "::ffff:10.9.9.9", "2001:db8:1::5", "192.0.2.7"] {
        let info = a.validate_token_with(key, &from(inside)).await.unwrap();
        assert_eq!(info.token_id, k.token_id, "{inside}");
    }
    for outside in ["11.0.0.1", "192.0.2.8", "2001:db9::1"] {
        let err = a.validate_token_with(key, &from(outside)).await.unwrap_err();
        assert_eq!(err, Error::TokenValidationFailed, "{outside}");
    }
    // Without an address a restricted key does not validate; an unrestricted one does.
    assert_eq!(
        a.validate_token(key).await.unwrap_err(),
        Error::TokenValidationFailed
    );
    let open = self::key(&a, &o).await;
    a.validate_token_with(open.token.expose(), &from("203.0.113.1"))
        .await
        .unwrap();
    a.validate_token(open.token.expose()).await.unwrap();

    // Refusals are in the audit log (written off the request path), with the caller's address.
    a.flush_usage().await;
    let events = a
        .list_audit_events(ListAuditEvents {
            action: Some("api_key.validate".into()),
            page_size: Some(100),
            ..Default::default()
        })
        .await
        .unwrap()
        .events;
    let sources: Vec<Option<&str>> = events.iter().map(|e| e.source_address.as_deref()).collect();
    assert_eq!(
        sources,
        [Some("11.0.0.1"), Some("192.0.2.8"), Some("2001:db9::1"), None]
    );
    for e in &events {
        assert_eq!(e.target_ids, std::slice::from_ref(&k.token_id));
        assert_eq!(e.organization_id.as_deref(), Some(o.as_str()));
        assert_eq!(e.error_code.as_deref(), Some("address_not_allowed"));
    }

    // Update replaces the networks; null (Some(None)) removes them; a rotation copies them.
    let update = |list: Option<Option<Vec<String>>>| UpdateToken {
        token: k.token_id.clone(),
        allowed_cidrs: list,
        ..Default::default()
    };
    refused!(
        db,
        "invalid_argument",
        a.update_token(update(Some(cidrs(&["300.0.0.0/8"]))))
    );
    let info = a
        .update_token(update(Some(cidrs(&["203.0.113.0/24"]))))
        .await
        .unwrap();
    assert_eq!(info.allowed_cidrs, cidrs(&["203.0.113.0/24"]));
    assert!(a.validate_token_with(key, &from("10.1.2.3")).await.is_err());
    a.validate_token_with(key, &from("203.0.113.9")).await.unwrap();
    let rotated = a.rotate_token(rotate(&k.token_id, Some(60))).await.unwrap();
    assert_eq!(rotated.token_info.allowed_cidrs, cidrs(&["203.0.113.0/24"]));
    assert!(
        a.validate_token_with(rotated.token.expose(), &from("10.1.2.3"))
            .await
            .is_err()
    );
    let info = a.update_token(update(Some(None))).await.unwrap();
    assert_eq!(info.allowed_cidrs, None);
    a.validate_token(key).await.unwrap();
    // A claims-only update keeps them.
    let info = a
        .update_token(UpdateToken {
            token: rotated.token_id.clone(),
            description: Some("kept".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(info.allowed_cidrs, cidrs(&["203.0.113.0/24"]));
}

async fn rate_limits_count_valid_uses(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let limited = |limit: u64, window_seconds: u64| CreateToken {
        organization_id: o.clone(),
        rate_limit: Some(RateLimit {
            limit,
            window_seconds,
        }),
        ..Default::default()
    };
    for (limit, window) in [(0, 60), (1_000_000_001, 60), (10, 0), (10, 86_401)] {
        let err = refused!(db, "invalid_argument", a.create_token(limited(limit, window)));
        assert!(err.to_string().contains("rate_limit"), "{err}");
    }
    common::fresh_window(3600, 60).await;
    let k = a.create_token(limited(3, 3600)).await.unwrap();
    assert_eq!(
        k.token_info.rate_limit,
        Some(RateLimit {
            limit: 3,
            window_seconds: 3600
        })
    );
    let key = k.token.expose();
    for _ in 0..3 {
        a.validate_token(key).await.unwrap();
    }
    // Over the limit: a distinct, typed error with the seconds left in the window.
    let err = a.validate_token(key).await.unwrap_err();
    let Error::RateLimited { retry_after } = err else {
        panic!("expected rate_limited, got {err:?}")
    };
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!((err.code(), err.http_status()), ("rate_limited", 429));
    // Refused keys do not count, and the limit is the key's own.
    assert_eq!(
        a.validate_token("agk_unknown0123456789").await.unwrap_err(),
        Error::TokenValidationFailed
    );
    let other = a.create_token(limited(3, 3600)).await.unwrap();
    a.validate_token(other.token.expose()).await.unwrap();

    // Processes sharing PostgreSQL share the budget; on SQLite each process counts on its own.
    let b = db.open().await;
    let second = b.validate_token(key).await;
    if db.is_postgres() {
        assert!(matches!(second, Err(Error::RateLimited { .. })), "{second:?}");
    } else {
        second.unwrap();
    }

    // A raised limit applies at once; removing it lifts the limit.
    let update = |rate: Option<Option<RateLimit>>| UpdateToken {
        token: k.token_id.clone(),
        rate_limit: rate,
        ..Default::default()
    };
    refused!(
        db,
        "invalid_argument",
        a.update_token(update(Some(Some(RateLimit {
            limit: 0,
            window_seconds: 1
        }))))
    );
    a.update_token(update(Some(Some(RateLimit {
        limit: 5,
        window_seconds: 3600,
    }))))
    .await
    .unwrap();
    // Five in the window now: two more (the refused use on the second process did not count).
    for _ in 0..2 {
        a.validate_token(key).await.unwrap();
    }
    assert!(matches!(
        a.validate_token(key).await,
        Err(Error::RateLimited { .. })
    ));
    let info = a.update_token(update(Some(None))).await.unwrap();
    assert_eq!(info.rate_limit, None);
    for _ in 0..10 {
        a.validate_token(key).await.unwrap();
    }

    // A rotation copies the limit, or sets its own.
    let r = a.rotate_token(rotate(&other.token_id, Some(0))).await.unwrap();
    assert_eq!(r.token_info.rate_limit, other.token_info.rate_limit);
    common::fresh_window(60, 5).await;
    let r2 = a
        .rotate_token(RotateToken {
            token: r.token_id.clone(),
            grace_period_seconds: Some(0),
            rate_limit: Some(RateLimit {
                limit: 1,
                window_seconds: 60,
            }),
        })
        .await
        .unwrap();
    assert_eq!(r2.token_info.rate_limit.unwrap().limit, 1);
    a.validate_token(r2.token.expose()).await.unwrap();
    assert!(matches!(
        a.validate_token(r2.token.expose()).await,
        Err(Error::RateLimited { .. })
    ));
}

async fn settings_are_omitted_when_unused(db: &TestDb) {
    let a = db.open().await;
    let o = org(&a).await;
    let k = key(&a, &o).await;
    let json = serde_json::to_value(&k).unwrap();
    let info = json["token_info"].as_object().unwrap();
    for field in ["allowed_cidrs", "rate_limit"] {
        assert!(!info.contains_key(field), "{field} in {json}");
    }
}
