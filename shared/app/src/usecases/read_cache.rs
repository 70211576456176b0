//! [`ReadCache`]: the rendered answers of reads (an order's view, a page of the board), remembered per caller
//! under the store's write generation ([`OrderStore::write_generation`]), so that a read that nothing written
//! since has changed is a memory lookup instead of store reads, decoding and rendering.
//!
//! Never stale: the generation is read before the store is, and the store changes it after every commit, before
//! the write is answered; an answer is kept under the generation read before it was rendered, and served only
//! while the store still answers that generation. A write of any kind (a step of the API or of a consumer, a
//! record, a setting) therefore drops every remembered answer. Answers are kept compressed (LZ4: a view of one
//! order to about half, decompressed in about a microsecond) within a byte budget, so that the process stays
//! small whatever the number of orders; over the budget, some are dropped.
//!
//! [`OrderStore::write_generation`]: crate::OrderStore::write_generation

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use osflow_domain::values::TenantId;

use crate::usecases::{App, Caller};

/// A rendered read: the JSON body and the version its `ETag` names (when it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadView {
    pub body: String,
    pub version: Option<u64>,
}

/// Remembered answers (see the module's documentation). Shared by the clones of an [`App`].
pub struct ReadCache {
    budget_bytes: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The write generation every entry was rendered under.
    generation: u64,
    /// The bytes the entries take (compressed bodies and keys, with a fixed overhead per entry).
    used: usize,
    entries: HashMap<String, Entry>,
}

struct Entry {
    /// The body, an LZ4 block.
    packed: Arc<[u8]>,
    /// Its length inflated.
    len: usize,
    version: Option<u64>,
}

/// What an entry costs beyond its key and body (the map's slot, the allocation headers).
const ENTRY_OVERHEAD: usize = 96;

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").field("budget_bytes", &self.budget_bytes).finish_non_exhaustive()
    }
}

impl ReadCache {
    /// A cache holding at most about `budget_bytes` (compressed answers and their keys).
    pub fn new(budget_bytes: usize) -> ReadCache {
        ReadCache { budget_bytes, state: Mutex::new(State::default()) }
    }

    /// The answer remembered for `key` under `generation`; a newer generation drops every entry.
    fn get(&self, key: &str, generation: u64) -> Option<ReadView> {
        let (packed, len, version) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.generation != generation {
                state.renew(generation);
                return None;
            }
            let entry = state.entries.get(key)?;
            (entry.packed.clone(), entry.len, entry.version)
        };
        match lz4_flex::block::decompress(&packed, len) {
            Ok(body) if body.len() == len => String::from_utf8(body).ok().map(|body| ReadView { body, version }),
            _ => None,
        }
    }

    /// Drops every entry older than `generation` now (they would be dropped at the next read anyway).
    fn forget_before(&self, generation: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.generation < generation {
            state.renew(generation);
        }
    }

    /// Remembers `view` for `key`, rendered after `generation` was read (nothing when the store has written
    /// since: the entries are of a newer generation).
    fn put(&self, key: String, generation: u64, view: &ReadView) {
        let packed: Arc<[u8]> = lz4_flex::block::compress(view.body.as_bytes()).into();
        let size = packed.len() + key.len() + ENTRY_OVERHEAD;
        if size > self.budget_bytes / 4 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if generation < state.generation {
            return;
        }
        if generation > state.generation {
            state.renew(generation);
        }
        if state.used + size > self.budget_bytes {
            // Some entries go (the map's order: no recency kept, so a round over more answers than fit still
            // finds some of them).
            let target = self.budget_bytes * 3 / 4;
            let mut dropped = Vec::new();
            let mut used = state.used;
            for (k, e) in &state.entries {
                if used + size <= target {
                    break;
                }
                used -= e.packed.len() + k.len() + ENTRY_OVERHEAD;
                dropped.push(k.clone());
            }
            for k in dropped {
                state.entries.remove(&k);
            }
            state.used = used;
        }
        let key_len = key.len();
        let entry = Entry { packed, len: view.body.len(), version: view.version };
        if let Some(old) = state.entries.insert(key, entry) {
            state.used -= old.packed.len() + key_len + ENTRY_OVERHEAD;
        }
        state.used += size;
    }
}

impl State {
    /// Every entry dropped: they are of an older generation.
    fn renew(&mut self, generation: u64) {
        self.generation = generation;
        self.entries = HashMap::new();
        self.used = 0;
    }
}

impl App {
    /// Reads' answers remembered within `budget_bytes` ([`ReadCache`]; 0: none): for an App over one store whose
    /// [`write_generation`](crate::OrderStore::write_generation) counts every write of the data its reads see.
    pub fn with_read_cache(mut self, budget_bytes: usize) -> App {
        self.read_cache = (budget_bytes > 0).then(|| Arc::new(ReadCache::new(budget_bytes)));
        self
    }

    /// The answer of a read by `caller` (`what` names the read and all its parameters: `render` must depend on
    /// nothing else than the caller, the store's content and today's date): remembered when nothing was written
    /// since it was rendered, else rendered by `render` and remembered. Without a read cache, or over a store
    /// that cannot tell its writes apart, every call renders. Errors are never remembered (so a caller's roles
    /// are checked by `render` before its answer is remembered under them).
    pub async fn remembered<F, Fut, E>(&self, caller: &Caller, what: &str, render: F) -> Result<ReadView, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ReadView, E>>,
    {
        let Some(cache) = &self.read_cache else { return render().await };
        let Some(generation) = self.orders.write_generation(&caller.tenant) else { return render().await };
        let key = read_key(caller, self.clock.now().date_naive(), what);
        if let Some(hit) = cache.get(&key, generation) {
            return Ok(hit);
        }
        let view = render().await?;
        cache.put(key, generation, &view);
        Ok(view)
    }
}

impl App {
    /// After a write: the answers it made stale hold no memory while writes go on without reads (the opening
    /// and the steps call it; any other write leaves them to the next read, which drops them).
    pub(crate) fn forget_stale_reads(&self, tenant: &TenantId) {
        if let (Some(cache), Some(generation)) = (&self.read_cache, self.orders.write_generation(tenant)) {
            cache.forget_before(generation);
        }
    }
}

/// The key of a read: the company, the caller and their roles, the day, and the read itself.
fn read_key(caller: &Caller, today: chrono::NaiveDate, what: &str) -> String {
    use std::fmt::Write;
    let mut key = String::with_capacity(caller.tenant.as_str().len() + caller.user.as_str().len() + what.len() + 48);
    let _ = write!(key, "{}\u{1f}{}\u{1f}", caller.tenant.as_str(), caller.user.as_str());
    for role in &caller.roles {
        key.push_str(role.as_str());
        key.push(',');
    }
    let _ = write!(key, "\u{1f}{today}\u{1f}{what}");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: &str, version: u64) -> ReadView {
        ReadView { body: body.to_owned(), version: Some(version) }
    }

    #[test]
    fn an_answer_is_served_only_under_its_generation() {
        let cache = ReadCache::new(1 << 20);
        let body = format!("{{\"id\":\"x\",\"text\":\"{}\"}}", "Não liga ".repeat(50));
        cache.put("a".into(), 7, &view(&body, 3));
        assert_eq!(cache.get("a", 7), Some(view(&body, 3)), "the same bytes back");
        assert_eq!(cache.get("b", 7), None);
        // A write: the generation moved on, every entry goes.
        assert_eq!(cache.get("a", 8), None);
        assert_eq!(cache.get("a", 7), None, "an older generation never comes back");
        // Rendered before a write, remembered after it: not kept.
        cache.put("a".into(), 7, &view(&body, 3));
        assert_eq!(cache.get("a", 8), None);
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let budget = 64 * 1024;
        let cache = ReadCache::new(budget);
        for i in 0..2_000u64 {
            // Bodies that compress little (distinct digits), so that the budget is what limits.
            let body: String = (0..200).map(|j| char::from(b'0' + ((i * 7919 + j * 104_729) % 10) as u8)).collect();
            cache.put(format!("k{i}"), 1, &view(&body, i));
            let state = cache.state.lock().unwrap();
            let counted: usize = state.entries.iter().map(|(k, e)| e.packed.len() + k.len() + ENTRY_OVERHEAD).sum();
            assert_eq!(state.used, counted);
            assert!(state.used <= budget, "{} over {budget}", state.used);
        }
        let kept = (0..2_000u64).filter(|i| cache.get(&format!("k{i}"), 1).is_some()).count();
        assert!(kept > 50 && kept < 2_000, "{kept} kept");
    }
}
