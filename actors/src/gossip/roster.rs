//! The member list as serf shows it: every member ever heard of, `alive`, `failed` or `left`,
//! until reaped. Pure: foca's notifications and the leave / force-leave intents come in as
//! [`Event`]s, [`Roster::apply`] decides the new status; the transport does the I/O.
//!
//! Why a list of our own beside foca's: foca only knows up and down. Serf tells a graceful leave
//! (`left`) from a crash (`failed`) by a leave intent the member broadcasts before going, and
//! keeps failed members listed until reaped or force-left; both need this table.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::time::Duration;
use std::time::Instant;

use super::identity::MemberIdentity;
use crate::liveness::MemberStatus;

/// Something gossip learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// foca: a member is up (new, restarted, or back after a false suspicion).
    Up(MemberIdentity),
    /// foca: a newer identity replaced an older one at the same address, liveness unchanged.
    Renamed(MemberIdentity),
    /// foca: a member was declared down (by a failed probe or its own leave).
    Down(MemberIdentity),
    /// The member announced it is leaving gracefully (this incarnation of it).
    LeaveIntent { name: String, incarnation: u64 },
    /// `force-leave`: a failed member becomes `left`; with `prune` it is forgotten at once.
    ForceLeave { name: String, prune: bool },
}

/// One listed member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub identity: MemberIdentity,
    pub status: MemberStatus,
    /// When `status` last changed (reaping counts from here).
    pub since: Instant,
}

/// Every member this server knows, by name.
#[derive(Clone, Debug)]
pub struct Roster {
    me: String,
    members: BTreeMap<String, Entry>,
    /// Highest incarnation of each member that announced a graceful leave.
    leaving: HashMap<String, u64>,
}

impl Roster {
    /// A roster holding only this server, alive.
    pub fn new(me: MemberIdentity, now: Instant) -> Self {
        let name = me.name.clone();
        let mut members = BTreeMap::new();
        members.insert(name.clone(), Entry { identity: me, status: MemberStatus::Alive, since: now });
        Self { me: name, members, leaving: HashMap::new() }
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.members.values()
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.members.get(name)
    }

    pub fn me(&self) -> Option<&Entry> {
        self.members.get(&self.me)
    }

    /// Marks this server itself (graceful leave in progress: `left`).
    pub fn set_my_status(&mut self, status: MemberStatus, now: Instant) {
        if let Some(e) = self.members.get_mut(&self.me) {
            set_status(e, status, now);
        }
    }

    /// Applies one event; returns the members it removed (pruned), whose liveness must go.
    pub fn apply(&mut self, event: Event, now: Instant) -> Vec<MemberIdentity> {
        match event {
            Event::Up(id) | Event::Renamed(id) if id.name.is_empty() || id.name == self.me => {}
            Event::Up(id) => {
                if self.is_stale(&id) {
                    return vec![];
                }
                if self.leaving.get(&id.name).is_some_and(|&inc| inc < id.incarnation) {
                    self.leaving.remove(&id.name);
                }
                let entry = self.members.entry(id.name.clone()).or_insert_with(|| Entry {
                    identity: id.clone(),
                    status: MemberStatus::Alive,
                    since: now,
                });
                entry.identity = id;
                set_status(entry, MemberStatus::Alive, now);
            }
            Event::Renamed(id) => {
                if !self.is_stale(&id) {
                    if let Some(entry) = self.members.get_mut(&id.name) {
                        entry.identity = id;
                    }
                }
            }
            Event::Down(id) => {
                if id.name.is_empty() || id.name == self.me || self.is_stale(&id) {
                    return vec![];
                }
                let left = self.leaving.get(&id.name).is_some_and(|&inc| inc >= id.incarnation);
                let entry = self.members.entry(id.name.clone()).or_insert_with(|| Entry {
                    identity: id.clone(),
                    status: MemberStatus::Failed,
                    since: now,
                });
                let status =
                    if left || entry.status == MemberStatus::Left && entry.identity.incarnation == id.incarnation {
                        MemberStatus::Left
                    } else {
                        MemberStatus::Failed
                    };
                entry.identity = id;
                set_status(entry, status, now);
            }
            Event::LeaveIntent { name, incarnation } => {
                if name == self.me {
                    return vec![];
                }
                let inc = self.leaving.entry(name.clone()).or_insert(incarnation);
                *inc = (*inc).max(incarnation);
                if let Some(entry) = self.members.get_mut(&name) {
                    if entry.status == MemberStatus::Failed && entry.identity.incarnation <= incarnation {
                        set_status(entry, MemberStatus::Left, now);
                    }
                }
            }
            Event::ForceLeave { name, prune } => {
                if name == self.me {
                    return vec![];
                }
                let Some(entry) = self.members.get_mut(&name) else { return vec![] };
                match (entry.status, prune) {
                    (MemberStatus::Alive, _) => {}
                    (_, true) => {
                        self.leaving.remove(&name);
                        return self.members.remove(&name).map(|e| e.identity).into_iter().collect();
                    }
                    (_, false) => set_status(entry, MemberStatus::Left, now),
                }
            }
        }
        vec![]
    }

    /// Forgets members that have been `failed` or `left` for longer than `after` (serf's
    /// reconnect and tombstone timeouts); returns them.
    pub fn reap(&mut self, now: Instant, after: Duration) -> Vec<MemberIdentity> {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(name, e)| {
                **name != self.me && e.status != MemberStatus::Alive && now.saturating_duration_since(e.since) >= after
            })
            .map(|(name, _)| name.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|name| {
                self.leaving.remove(&name);
                self.members.remove(&name).map(|e| e.identity)
            })
            .collect()
    }

    /// News about an older incarnation than the one listed changes nothing.
    fn is_stale(&self, id: &MemberIdentity) -> bool {
        self.members.get(&id.name).is_some_and(|e| e.identity.incarnation > id.incarnation)
    }
}

fn set_status(entry: &mut Entry, status: MemberStatus, now: Instant) {
    if entry.status != status {
        entry.status = status;
        entry.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, incarnation: u64) -> MemberIdentity {
        MemberIdentity {
            name: format!("{name}.global"),
            incarnation,
            ..MemberIdentity::placeholder(format!("127.0.0.1:{}", 4000 + name.len()).parse().unwrap())
        }
    }

    fn status(r: &Roster, name: &str) -> Option<MemberStatus> {
        r.get(&format!("{name}.global")).map(|e| e.status)
    }

    use MemberStatus::*;

    /// One row: why, the events in order, and the status of `b` after them (`None` = not listed).
    #[test]
    fn status_transitions() {
        let leave = |inc| Event::LeaveIntent { name: "b.global".into(), incarnation: inc };
        let force = |prune| Event::ForceLeave { name: "b.global".into(), prune };
        let cases: Vec<(&str, Vec<Event>, Option<MemberStatus>)> = vec![
            ("joined", vec![Event::Up(id("b", 1))], Some(Alive)),
            ("crashed", vec![Event::Up(id("b", 1)), Event::Down(id("b", 1))], Some(Failed)),
            ("left gracefully", vec![Event::Up(id("b", 1)), leave(1), Event::Down(id("b", 1))], Some(Left)),
            (
                "leave intent after the down notice",
                vec![Event::Up(id("b", 1)), Event::Down(id("b", 1)), leave(1)],
                Some(Left),
            ),
            (
                "restarted after a crash",
                vec![Event::Up(id("b", 1)), Event::Down(id("b", 1)), Event::Up(id("b", 2))],
                Some(Alive),
            ),
            (
                "restarted after leaving",
                vec![Event::Up(id("b", 1)), leave(1), Event::Down(id("b", 1)), Event::Up(id("b", 2))],
                Some(Alive),
            ),
            (
                "an old leave does not make the new incarnation's crash a leave",
                vec![
                    Event::Up(id("b", 1)),
                    leave(1),
                    Event::Down(id("b", 1)),
                    Event::Up(id("b", 2)),
                    Event::Down(id("b", 2)),
                ],
                Some(Failed),
            ),
            ("stale down of an older incarnation", vec![Event::Up(id("b", 2)), Event::Down(id("b", 1))], Some(Alive)),
            ("leave intent alone keeps it alive", vec![Event::Up(id("b", 1)), leave(1)], Some(Alive)),
            (
                "force-leave a failed member",
                vec![Event::Up(id("b", 1)), Event::Down(id("b", 1)), force(false)],
                Some(Left),
            ),
            (
                "force-leave -prune a failed member",
                vec![Event::Up(id("b", 1)), Event::Down(id("b", 1)), force(true)],
                None,
            ),
            (
                "force-leave -prune a left member",
                vec![Event::Up(id("b", 1)), leave(1), Event::Down(id("b", 1)), force(true)],
                None,
            ),
            ("force-leave an alive member changes nothing", vec![Event::Up(id("b", 1)), force(true)], Some(Alive)),
            ("force-leave an unknown member", vec![force(false)], None),
            (
                "rename keeps the status",
                vec![Event::Up(id("b", 1)), Event::Down(id("b", 1)), Event::Renamed(id("b", 2))],
                Some(Failed),
            ),
        ];
        for (why, events, want) in cases {
            let t0 = Instant::now();
            let mut r = Roster::new(id("a", 1), t0);
            for e in events {
                r.apply(e, t0);
            }
            assert_eq!(status(&r, "b"), want, "{why}");
            assert_eq!(status(&r, "a"), Some(Alive), "{why}: self untouched");
        }
    }

    #[test]
    fn own_member_ignores_gossip_about_itself() {
        let t0 = Instant::now();
        let mut r = Roster::new(id("a", 1), t0);
        r.apply(Event::Down(id("a", 1)), t0);
        r.apply(Event::ForceLeave { name: "a.global".into(), prune: true }, t0);
        assert_eq!(status(&r, "a"), Some(Alive));
        r.set_my_status(Left, t0);
        assert_eq!(r.me().map(|e| e.status), Some(Left));
    }

    #[test]
    fn reaps_only_dead_members_after_the_timeout() {
        let t0 = Instant::now();
        let mut r = Roster::new(id("a", 1), t0);
        r.apply(Event::Up(id("b", 1)), t0);
        r.apply(Event::Up(id("c", 1)), t0);
        r.apply(Event::Down(id("c", 1)), t0);
        let day = Duration::from_secs(86_400);
        assert!(r.reap(t0 + Duration::from_secs(60), day).is_empty());
        let reaped = r.reap(t0 + day, day);
        assert_eq!(reaped.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["c.global"]);
        assert_eq!(r.entries().count(), 2);
    }
}
