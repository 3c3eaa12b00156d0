//! The verified-token cache.
//!
//! Maps the SHA-256 digest of a whole token to the claims it verified to. An entry is used only
//! while the token's `exp` has not passed (the leeway is not extended to cached entries), while
//! the key set's generation is the one it was verified under (a removed or changed `kid` flushes
//! everything), and while the key set is within its TTL (hits past the refresh-ahead point start
//! the background refresh; past the TTL tokens are verified again). The cache is bounded:
//! sharded maps with first-in-first-out eviction, expired entries dropped when met.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use aws_lc_rs::digest;

use super::claims::Claims;
use crate::flight::lock;

const SHARDS: usize = 16;

/// The digest a token is cached under.
pub(crate) type Digest = [u8; 32];

pub(crate) fn digest_token(token: &str) -> Digest {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The map key is already a uniformly distributed digest prefix: hash it as is.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Entry {
    digest: Digest,
    claims: Claims,
    generation: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry, BuildHasherDefault<PrefixHasher>>,
    order: VecDeque<u64>,
}

/// A bounded cache of verified tokens.
pub(crate) struct TokenCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("len", &self.len())
            .finish()
    }
}

fn split(d: &Digest) -> (usize, u64) {
    let key = u64::from_le_bytes(d[..8].try_into().unwrap_or_default());
    (usize::from(d[8]) % SHARDS, key)
}

impl TokenCache {
    /// A cache holding about `capacity` tokens (rounded up to a multiple of 16).
    pub(crate) fn new(capacity: usize) -> TokenCache {
        TokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The cached claims of the token with digest `d`, if still valid at `now` under
    /// `generation`.
    pub(crate) fn get(&self, d: &Digest, now: f64, generation: u64) -> Option<Claims> {
        let (shard, key) = split(d);
        let mut shard = lock(&self.shards[shard]);
        let entry = shard.map.get(&key)?;
        if entry.digest != *d {
            return None;
        }
        if entry.generation == generation && now < entry.claims.exp() {
            return Some(entry.claims.clone());
        }
        shard.map.remove(&key);
        None
    }

    /// Caches `claims` for the token with digest `d`.
    pub(crate) fn insert(&self, d: Digest, claims: Claims, now: f64, generation: u64) {
        if now >= claims.exp() {
            return;
        }
        let (shard, key) = split(&d);
        let mut shard = lock(&self.shards[shard]);
        while shard.map.len() >= self.per_shard {
            match shard.order.pop_front() {
                Some(old) => {
                    shard.map.remove(&old);
                }
                None => break,
            }
        }
        let entry = Entry {
            digest: d,
            claims,
            generation,
        };
        match shard.map.entry(key) {
            MapEntry::Occupied(mut o) => {
                o.insert(entry);
            }
            MapEntry::Vacant(v) => {
                v.insert(entry);
                shard.order.push_back(key);
            }
        }
        // Entries dropped on lookup leave their key in `order`; compact once it is twice the
        // capacity, keeping each live key once.
        if shard.order.len() > 2 * self.per_shard + 16 {
            let Shard { map, order } = &mut *shard;
            let mut seen = HashSet::with_capacity(map.len());
            order.retain(|k| map.contains_key(k) && seen.insert(*k));
        }
    }

    /// Number of cached entries (including ones that expired but were not met since).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            let mut shard = lock(shard);
            shard.map.clear();
            shard.order.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(exp: f64) -> Claims {
        Claims::new(json!({"exp": exp}).as_object().unwrap().clone(), exp, &[])
    }

    #[test]
    fn hit_miss_expiry_generation() {
        let cache = TokenCache::new(100);
        let d = digest_token("a.b.c");
        assert!(cache.get(&d, 10.0, 0).is_none());
        cache.insert(d, claims(20.0), 10.0, 0);
        assert!(cache.get(&d, 19.9, 0).is_some());
        assert!(cache.get(&d, 10.0, 1).is_none(), "a new generation flushes");
        assert!(cache.get(&d, 10.0, 0).is_none(), "and the entry is gone");
        cache.insert(d, claims(20.0), 10.0, 0);
        assert!(cache.get(&d, 20.0, 0).is_none(), "never outlives exp");
        cache.insert(d, claims(20.0), 25.0, 0);
        assert_eq!(cache.len(), 0, "expired tokens are not inserted");
    }

    #[test]
    fn bounded() {
        let cache = TokenCache::new(64);
        for i in 0..10_000 {
            cache.insert(digest_token(&format!("t{i}")), claims(1e12), 0.0, 0);
        }
        assert!(cache.len() <= 64, "{}", cache.len());
        for shard in &cache.shards {
            assert!(lock(shard).order.len() <= 2 * cache.per_shard + 16);
        }
        assert!(cache.get(&digest_token("t9999"), 1.0, 0).is_some());
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
