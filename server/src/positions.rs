//! The in-memory latest-positions table: embedded mode's equivalent of ksqlDB's
//! `LATEST_BY_OFFSET` table, except that the newest *event time* wins, so messages that
//! arrive out of order or twice never move a vehicle backwards.
//!
//! The table also remembers which markers changed since the hub last asked
//! ([`LatestPositions::drain_changes`]), so each tick's delta is built from the changed
//! vehicles only, and it expires vehicles not heard from within the configured time.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use app::model::{Marker, VehicleId, VehiclePosition};
use app::viewport::{Cell, CellRect};

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A vehicle the table did not have.
    Inserted,
    /// Newer, and its marker changed (moved, turned, changed line): goes into the next delta.
    Moved,
    /// Newer, but the marker looks the same (a vehicle standing at a stop): stored for the
    /// click panel, not sent to browsers.
    Refreshed,
    /// Same event time as the stored position: a repeated delivery.
    Duplicate,
    /// Older than the stored position: arrived out of order and was not applied.
    Stale,
}

/// The changes since the previous drain, numbered by a sequence that grows by one per drain.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    pub seq: u64,
    pub upserts: Vec<Changed>,
    pub removed: Vec<VehicleId>,
    /// When the oldest of these upserts was received (`None` if there are none): how
    /// stale the delta is by the time it reaches a client.
    pub since: Option<Instant>,
}

/// One vehicle in a change set.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub marker: Marker,
    /// Whether what the vehicle is (mode, line, destination) was set or changed since the
    /// previous drain: `wire` sends that part only then.
    pub described: bool,
    /// The cells the vehicle was in at any time since the previous drain, its cell then
    /// included: a client shown any of them may hold the vehicle, so the hub tells it when
    /// the vehicle leaves its view, and says what the vehicle is when it enters.
    pub visited: CellRect,
}

/// Every vehicle's latest position.
///
/// A plain `std::sync::Mutex`, not an async one: every critical section is a few hash-map
/// operations with no `.await` inside, so holding it never blocks the runtime for long, and
/// the ingest path (thousands of upserts a second) stays cheap. Lock poisoning is ignored
/// because nothing in a critical section can leave the table half-updated.
#[derive(Debug)]
pub struct LatestPositions {
    table: Mutex<Table>,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Table {
    vehicles: HashMap<VehicleId, Entry>,
    /// Vehicles whose marker changed since the last drain.
    dirty: HashSet<VehicleId>,
    /// Of those, the ones that are new or whose mode, line or destination changed, at any
    /// time since the last drain (even if changed back): a snapshot taken in between may
    /// hold any of those values, so the next delta must say what the vehicle is now.
    described: HashSet<VehicleId>,
    /// Of those, the cells each was in since the last drain (see [`Changed::visited`]).
    visited: HashMap<VehicleId, CellRect>,
    /// Vehicles dropped by [`LatestPositions::replace_all`] since the last drain.
    dropped: Vec<VehicleId>,
    /// When the first change since the last drain was received.
    since: Option<Instant>,
    /// Number of the last drain: a snapshot taken now reflects at least this state.
    seq: u64,
}

#[derive(Debug)]
struct Entry {
    position: VehiclePosition,
    /// When we last received any valid message for this vehicle, by our clock: expiry
    /// follows what we hear, not the vehicle's own clock, so replays of old data work too.
    heard_at: Instant,
}

impl Table {
    fn upsert(&mut self, position: VehiclePosition, now: Instant) -> Upsert {
        let id = position.id;
        let Table { vehicles, dirty, described, visited, since, .. } = self;
        match vehicles.get_mut(&id) {
            None => {
                // Usually new; or dropped by a snapshot and back before the drain.
                let cell = Cell::of(position.lat, position.lon);
                visited.entry(id).or_insert(CellRect::cell(cell)).extend(cell);
                vehicles.insert(id, Entry { position, heard_at: now });
                dirty.insert(id);
                since.get_or_insert(now);
                described.insert(id);
                Upsert::Inserted
            }
            Some(entry) => {
                entry.heard_at = now;
                let stored = entry.position.timestamp_ms;
                if position.timestamp_ms < stored {
                    return Upsert::Stale;
                }
                if position.timestamp_ms == stored {
                    return Upsert::Duplicate;
                }
                let marker_changed = !same_marker(&entry.position, &position);
                if !same_about(&entry.position, &position) {
                    described.insert(id);
                }
                if marker_changed {
                    let from = Cell::of(entry.position.lat, entry.position.lon);
                    let to = Cell::of(position.lat, position.lon);
                    visited.entry(id).or_insert(CellRect::cell(from)).extend(to);
                }
                entry.position = position;
                if marker_changed {
                    dirty.insert(id);
                    since.get_or_insert(now);
                    Upsert::Moved
                } else {
                    Upsert::Refreshed
                }
            }
        }
    }
}

impl LatestPositions {
    /// An empty table whose vehicles expire after `ttl` without news.
    pub fn new(ttl: Duration) -> Self {
        Self { table: Mutex::default(), ttl }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `position` unless the table already has a position at least as new.
    pub fn upsert(&self, position: VehiclePosition, now: Instant) -> Upsert {
        self.lock().upsert(position, now)
    }

    /// Makes the table hold exactly `positions` (an upstream snapshot after a reconnect):
    /// vehicles not in it leave the map in the next delta, the others are upserted as
    /// usual, so a snapshot older than what the table has never moves a vehicle back.
    ///
    /// `then` runs before the lock is released, so no drain, snapshot or lookup sees the
    /// new table without what `then` did: the ksqlDB bridge marks itself delivering there,
    /// and the hub, which reads readiness after its drain, never sends the reloaded
    /// positions ahead of the word that the feed is live.
    pub fn replace_all(&self, positions: Vec<VehiclePosition>, now: Instant, then: impl FnOnce()) {
        let mut table = self.lock();
        let keep: HashSet<VehicleId> = positions.iter().map(|p| p.id).collect();
        let Table { vehicles, dirty, described, visited, dropped, .. } = &mut *table;
        vehicles.retain(|id, _| {
            let stays = keep.contains(id);
            if !stays {
                dropped.push(*id);
                dirty.remove(id);
                described.remove(id);
                visited.remove(id);
            }
            stays
        });
        for position in positions {
            table.upsert(position, now);
        }
        then();
    }

    /// The latest position of one vehicle.
    pub fn get(&self, id: VehicleId) -> Option<VehiclePosition> {
        self.lock().vehicles.get(&id).map(|entry| entry.position.clone())
    }

    /// Every position, in id order.
    pub fn all(&self) -> Vec<VehiclePosition> {
        let mut positions: Vec<VehiclePosition> =
            self.lock().vehicles.values().map(|entry| entry.position.clone()).collect();
        positions.sort_by_key(|p| p.id);
        positions
    }

    /// Number of vehicles in the table.
    pub fn len(&self) -> usize {
        self.lock().vehicles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sequence number of the last drain.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// Every current marker, with the sequence number it is consistent with: applying the
    /// deltas numbered above `seq` to it gives the current state. (It may already contain
    /// some of the next delta's upserts; applying them twice is harmless.)
    pub fn snapshot(&self) -> (u64, Vec<Marker>) {
        let table = self.lock();
        let markers = table.vehicles.values().map(|entry| entry.position.marker()).collect();
        (table.seq, markers)
    }

    /// Expires vehicles not heard from within the TTL and returns what changed since the
    /// previous drain, or `None` when nothing did (the sequence then stays put).
    pub fn drain_changes(&self, now: Instant) -> Option<Changes> {
        let mut table = self.lock();
        let Table { vehicles, dirty, described, visited, dropped, since, seq } = &mut *table;
        let ttl = self.ttl;
        // A vehicle dropped by a snapshot may be back already: then it is an upsert only.
        let mut removed: Vec<VehicleId> =
            dropped.drain(..).filter(|id| !vehicles.contains_key(id)).collect();
        vehicles.retain(|id, entry| {
            let alive = now.saturating_duration_since(entry.heard_at) < ttl;
            if !alive {
                removed.push(*id);
                dirty.remove(id);
                described.remove(id);
                visited.remove(id);
            }
            alive
        });
        if dirty.is_empty() && removed.is_empty() {
            return None;
        }
        // Taken even when every dirty vehicle expired meanwhile: the next change starts
        // its own clock.
        let since = since.take().filter(|_| !dirty.is_empty());
        let upserts = dirty
            .drain()
            .filter_map(|id| {
                let marker = vehicles.get(&id)?.position.marker();
                let visited = visited
                    .remove(&id)
                    .unwrap_or_else(|| CellRect::cell(Cell::of(marker.lat, marker.lon)));
                Some(Changed { marker, described: described.remove(&id), visited })
            })
            .collect();
        // A change of text alone also dirties the marker, so nothing is left here; clearing
        // is for certainty, not for a known case.
        described.clear();
        visited.clear();
        *seq += 1;
        Some(Changes { seq: *seq, upserts, removed, since })
    }
}

/// Whether two positions draw the same marker. Compares in place rather than building two
/// `Marker`s: this runs for every message.
fn same_marker(a: &VehiclePosition, b: &VehiclePosition) -> bool {
    a.lat == b.lat && a.lon == b.lon && a.heading == b.heading && same_about(a, b)
}

/// Whether two positions say the same about what the vehicle is.
fn same_about(a: &VehiclePosition, b: &VehiclePosition) -> bool {
    a.mode == b.mode && a.line == b.line && a.headsign == b.headsign
}

#[cfg(test)]
mod tests;
