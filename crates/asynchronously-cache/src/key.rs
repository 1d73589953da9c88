//! Keys stored with their hash, so a lookup hashes the user's key exactly once.
//!
//! The shard maps are keyed by [`Hashed`], whose `Hash` writes only the precomputed hash into
//! an identity hasher. Lookups borrow a `Hashed<K>` as `dyn Probe<K>`, so a `&K` can be looked
//! up without cloning it into a `Hashed`.

use std::borrow::Borrow;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A key with its hash (computed once by the cache's `BuildHasher`).
#[derive(Clone)]
pub(crate) struct Hashed<K> {
    pub(crate) hash: u64,
    pub(crate) key: K,
}

/// A hash and a key, owned or borrowed: what the maps compare.
pub(crate) trait Probe<K> {
    fn hash(&self) -> u64;
    fn key(&self) -> &K;
}

/// A borrowed key with its hash, for lookups.
pub(crate) struct Borrowed<'a, K> {
    pub(crate) hash: u64,
    pub(crate) key: &'a K,
}

impl<K> Probe<K> for Hashed<K> {
    fn hash(&self) -> u64 {
        self.hash
    }

    fn key(&self) -> &K {
        &self.key
    }
}

impl<K> Probe<K> for Borrowed<'_, K> {
    fn hash(&self) -> u64 {
        self.hash
    }

    fn key(&self) -> &K {
        self.key
    }
}

impl<'a, K: 'a> Borrow<dyn Probe<K> + 'a> for Hashed<K> {
    fn borrow(&self) -> &(dyn Probe<K> + 'a) {
        self
    }
}

impl<K: Eq> PartialEq for dyn Probe<K> + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<K: Eq> Eq for dyn Probe<K> + '_ {}

impl<K> Hash for dyn Probe<K> + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(Probe::hash(self));
    }
}

impl<K: Eq> PartialEq for Hashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<K: Eq> Eq for Hashed<K> {}

impl<K> Hash for Hashed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes a precomputed `u64` hash through unchanged.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Hashed`; fold anything else so the hasher stays total.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// The `BuildHasher` of the shard maps.
pub(crate) type IdentityBuild = BuildHasherDefault<IdentityHasher>;
