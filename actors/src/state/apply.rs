//! [`apply`]: what a command does to the rows it touches, the same on every server and in
//! memory. Compare-and-set is decided here, inside apply, so that two competing CAS writes are
//! linearised by the log.

use super::acl;
use super::license;
use super::variables;
use super::AclOutcome;
use super::Applied;
use super::Command;
use super::Row;
use super::Tables;

/// Applies `cmd`, which sits at raft log `index`. Pure over the rows it reads: the same rows,
/// command and index give the same writes and result on every server. It writes only the rows
/// that change; a failed CAS writes nothing.
pub fn apply<T: Tables + ?Sized>(tables: &mut T, cmd: &Command, index: u64) -> Result<Applied, T::Error> {
    let mut variable = None;
    let mut acl = None;
    let updated = match cmd {
        Command::Batch(cmds) => {
            let mut batch = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                batch.push(apply(tables, cmd, index)?);
            }
            return Ok(Applied { updated: batch.iter().any(|a| a.updated), index, variable: None, acl: None, batch });
        }
        Command::InitDefaults { autopilot, scheduler } => {
            let mut changed = false;
            if tables.autopilot()?.is_none() {
                tables.set_autopilot(Row { value: autopilot.clone(), create_index: index, modify_index: index })?;
                changed = true;
            }
            if tables.scheduler()?.is_none() {
                let value = scheduler.clone().canonical();
                tables.set_scheduler(Row { value, create_index: index, modify_index: index })?;
                changed = true;
            }
            changed
        }
        Command::SetAutopilot { config, cas } => match set_row(tables.autopilot()?, config.clone(), *cas, index) {
            Some(row) => {
                tables.set_autopilot(row)?;
                true
            }
            None => false,
        },
        // Whole-table replacement is storage work: the raft store applies restores before
        // they get here; the in-memory model keeps its rows.
        Command::RestoreBegin { .. }
        | Command::RestoreRows { .. }
        | Command::RestoreCommit { .. }
        | Command::RestoreRetire { .. } => false,
        Command::SetScheduler { config, cas } => {
            match set_row(tables.scheduler()?, config.clone().canonical(), *cas, index) {
                Some(row) => {
                    tables.set_scheduler(row)?;
                    true
                }
                None => false,
            }
        }
        Command::VarSet { var, cas } => {
            let (row, outcome) = variables::decide_set(tables.variable(&var.namespace, &var.path)?, var, *cas, index);
            let updated = row.is_some();
            if let Some(row) = row {
                tables.set_variable(&row)?;
                tables.set_variables_index(index)?;
            }
            variable = Some(outcome);
            updated
        }
        Command::VarDelete { namespace, path, cas } => {
            let (delete, outcome) = variables::decide_delete(tables.variable(namespace, path)?, namespace, path, *cas);
            if delete {
                tables.delete_variable(namespace, path)?;
                tables.set_variables_index(index)?;
            }
            variable = Some(outcome);
            delete
        }
        Command::AclBootstrap { token, reset_index } => {
            match acl::decide_bootstrap(tables.acl_bootstrap()?, *reset_index) {
                Ok(()) => {
                    let stored = acl::stored_token(None, token, index);
                    tables.set_acl_token(&stored)?;
                    tables.set_acl_bootstrap(index)?;
                    tables.set_acl_index(true, index)?;
                    acl = Some(AclOutcome::Tokens(vec![stored]));
                    true
                }
                Err(reset_index) => {
                    acl = Some(AclOutcome::BootstrapDone { reset_index });
                    false
                }
            }
        }
        Command::AclPolicyUpsert { policies } => {
            for p in policies {
                let stored = acl::stored_policy(tables.acl_policy(&p.name)?.as_ref(), p, index);
                tables.set_acl_policy(&stored)?;
            }
            tables.set_acl_index(false, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::AclPolicyDelete { names } => {
            for name in names {
                tables.delete_acl_policy(name)?;
            }
            tables.set_acl_index(false, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::AclTokenUpsert { tokens } => {
            let mut stored_all = Vec::with_capacity(tokens.len());
            for t in tokens {
                let existing = tables.acl_token(&t.accessor_id)?;
                let stored = acl::stored_token(existing.as_ref(), t, index);
                tables.set_acl_token(&stored)?;
                stored_all.push(stored);
            }
            tables.set_acl_index(true, index)?;
            acl = Some(AclOutcome::Tokens(stored_all));
            true
        }
        Command::AclTokenDelete { accessors } => {
            for accessor in accessors {
                if let Some(t) = tables.acl_token(accessor)? {
                    tables.delete_acl_token(&t)?;
                }
            }
            tables.set_acl_index(true, index)?;
            acl = Some(AclOutcome::Done);
            true
        }
        Command::LicenseInit { license } => {
            let absent = tables.license()?.is_none();
            if absent {
                tables.set_license(Row { value: license.clone(), create_index: index, modify_index: index })?;
            }
            absent
        }
        Command::LicenseSet { license, force } => {
            let current = tables.license()?;
            let replace = license::may_replace(current.as_ref(), license, *force);
            if replace {
                let create_index = current.as_ref().map_or(index, |r| r.create_index);
                tables.set_license(Row { value: license.clone(), create_index, modify_index: index })?;
            }
            replace
        }
    };
    Ok(Applied { updated, index, variable, acl, batch: Vec::new() })
}

/// The CAS rule of both config tables: without `cas` always write; with it, write only if a row
/// exists and its `modify_index` equals `cas` (so `cas=0` never succeeds on a live cluster).
/// Returns the row to store, or `None` when the write is refused.
fn set_row<T>(row: Option<Row<T>>, value: T, cas: Option<u64>, index: u64) -> Option<Row<T>> {
    if let Some(expected) = cas {
        match &row {
            Some(existing) if existing.modify_index == expected => {}
            _ => return None,
        }
    }
    let create_index = row.as_ref().map_or(index, |r| r.create_index);
    Some(Row { value, create_index, modify_index: index })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::state::AclPolicy;
    use crate::state::AclToken;
    use crate::state::AutopilotConfig;
    use crate::state::RowKey;
    use crate::state::SchedulerConfig;
    use crate::state::State;
    use crate::state::VarOutcome;
    use crate::state::Variable;

    /// One client operation against a config table.
    #[derive(Clone, Debug)]
    enum Op {
        Put { autopilot: bool, value: u64 },
        Cas { autopilot: bool, value: u64, cas: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<bool>(), 0u64..1000).prop_map(|(autopilot, value)| Op::Put { autopilot, value }),
            (any::<bool>(), 0u64..1000, 0u64..40).prop_map(|(autopilot, value, cas)| Op::Cas { autopilot, value, cas }),
        ]
    }

    /// The model: a register per table holding (value, create, modify).
    #[derive(Default)]
    struct Model {
        tables: [Option<(u64, u64, u64)>; 2],
    }

    impl Model {
        fn apply(&mut self, op: &Op, index: u64) -> bool {
            let (t, value, cas) = match op {
                Op::Put { autopilot, value } => (usize::from(*autopilot), *value, None),
                Op::Cas { autopilot, value, cas } => (usize::from(*autopilot), *value, Some(*cas)),
            };
            let row = &mut self.tables[t];
            if let Some(c) = cas {
                if row.map(|r| r.2) != Some(c) {
                    return false;
                }
            }
            let create = row.map_or(index, |r| r.1);
            *row = Some((value, create, index));
            true
        }
    }

    fn command(op: &Op) -> Command {
        let (autopilot, value, cas) = match op {
            Op::Put { autopilot, value } => (*autopilot, *value, None),
            Op::Cas { autopilot, value, cas } => (*autopilot, *value, Some(*cas)),
        };
        if autopilot {
            let config = AutopilotConfig { max_trailing_logs: value, ..AutopilotConfig::default() };
            Command::SetAutopilot { config, cas }
        } else {
            let config = SchedulerConfig { node_limit_for_feasibility_checks: value as u32, ..Default::default() };
            Command::SetScheduler { config, cas }
        }
    }

    proptest! {
        /// For any sequence of PUT/CAS operations at increasing raft indexes (with gaps, as
        /// blank and membership entries take indexes too), every result and the final state
        /// equal the model: CAS succeeds iff the index matches; ModifyIndex is the write's index.
        #[test]
        fn cas_matches_model(ops in proptest::collection::vec((op(), 1u64..3), 0..60), start_with_rows in any::<bool>()) {
            let mut state = State::default();
            let mut model = Model::default();
            let mut index = 1;
            if start_with_rows {
                state.apply(&Command::InitDefaults { autopilot: AutopilotConfig::default(), scheduler: SchedulerConfig::default() }, index);
                model.tables = [Some((0, index, index)), Some((250, index, index))];
            }
            for (op, gap) in &ops {
                index += gap;
                let applied = state.apply(&command(op), index);
                prop_assert_eq!(applied.index, index);
                prop_assert_eq!(applied.updated, model.apply(op, index));
            }
            let sched = state.scheduler.as_ref().map(|r| (r.value.node_limit_for_feasibility_checks as u64, r.create_index, r.modify_index));
            let auto = state.autopilot.as_ref().map(|r| (r.value.max_trailing_logs, r.create_index, r.modify_index));
            prop_assert_eq!(sched, model.tables[0]);
            prop_assert_eq!(auto, model.tables[1]);
        }
    }

    /// One client operation on a variable among three paths.
    #[derive(Clone, Debug)]
    enum VarOp {
        Set { path: usize, value: u64, cas: Option<u64> },
        Delete { path: usize, cas: Option<u64> },
    }

    fn var_op() -> impl Strategy<Value = VarOp> {
        let cas = proptest::option::of(0u64..30);
        prop_oneof![
            3 => (0usize..3, 0u64..1000, cas.clone()).prop_map(|(path, value, cas)| VarOp::Set { path, value, cas }),
            1 => (0usize..3, cas).prop_map(|(path, cas)| VarOp::Delete { path, cas }),
        ]
    }

    /// The variable model: per path (value, create index, modify index, create time).
    #[derive(Default)]
    struct VarModel {
        rows: [Option<(u64, u64, u64, i64)>; 3],
    }

    impl VarModel {
        /// Returns (written or deleted, conflict).
        fn apply(&mut self, op: &VarOp, index: u64) -> (bool, bool) {
            match *op {
                VarOp::Set { path, value, cas } => {
                    let row = &mut self.rows[path];
                    let ok = match (cas, *row) {
                        (None, _) | (Some(0), None) => true,
                        (Some(c), Some(r)) => c != 0 && r.2 == c,
                        (Some(_), None) => false,
                    };
                    if ok {
                        let (create, time) = row.map_or((index, index as i64), |r| (r.1, r.3));
                        *row = Some((value, create, index, time));
                    }
                    (ok, !ok)
                }
                VarOp::Delete { path, cas } => {
                    let row = &mut self.rows[path];
                    let (ok, conflict) = match (cas, *row) {
                        (None, r) => (r.is_some(), false),
                        (Some(0), None) => (false, false),
                        (Some(_), None) => (false, true),
                        (Some(c), Some(r)) => (c != 0 && r.2 == c, !(c != 0 && r.2 == c)),
                    };
                    if ok {
                        *row = None;
                    }
                    (ok, conflict)
                }
            }
        }
    }

    fn var_command(op: &VarOp, index: u64) -> Command {
        let path = |p: usize| format!("app/{p}");
        match *op {
            VarOp::Set { path: p, value, cas } => Command::VarSet {
                var: Variable {
                    namespace: "default".into(),
                    path: path(p),
                    items: [("v".to_string(), value.to_string())].into(),
                    create_time: index as i64,
                    modify_time: index as i64,
                    ..Default::default()
                },
                cas,
            },
            VarOp::Delete { path: p, cas } => Command::VarDelete { namespace: "default".into(), path: path(p), cas },
        }
    }

    proptest! {
        /// Variable sets and deletes, with and without CAS, against the model: a CAS write or
        /// delete succeeds iff the index matches (0: iff absent); a conflict changes nothing and
        /// carries the current variable; creation index and time survive updates.
        #[test]
        fn variable_cas_matches_model(ops in proptest::collection::vec((var_op(), 1u64..3), 0..80)) {
            let mut state = State::default();
            let mut model = VarModel::default();
            let mut index = 1;
            for (op, gap) in &ops {
                index += gap;
                let before = state.variables.clone();
                let applied = state.apply(&var_command(op, index), index);
                let (ok, conflict) = model.apply(op, index);
                prop_assert_eq!(applied.updated, ok);
                match applied.variable {
                    Some(VarOutcome::Conflict(current)) => {
                        prop_assert!(conflict);
                        prop_assert_eq!(&state.variables, &before, "a conflict writes nothing");
                        let key = (current.namespace.clone(), current.path.clone());
                        match before.get(&key) {
                            Some(v) => prop_assert_eq!(v, &current),
                            None => prop_assert_eq!(current.modify_index, 0),
                        }
                    }
                    Some(VarOutcome::Written(_)) | Some(VarOutcome::Deleted) => prop_assert!(!conflict),
                    other => prop_assert!(false, "unexpected outcome {:?}", other),
                }
            }
            for (p, want) in model.rows.iter().enumerate() {
                let got = state.variables.get(&("default".to_string(), format!("app/{p}")))
                    .map(|v| (v.items["v"].parse::<u64>().unwrap(), v.create_index, v.modify_index, v.create_time));
                prop_assert_eq!(got, *want);
            }
        }
    }

    #[test]
    fn init_defaults_never_overwrites() {
        let mut s = State::default();
        assert!(
            s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 3).updated
        );
        let custom = SchedulerConfig { pause_eval_broker: true, ..Default::default() };
        s.apply(&Command::SetScheduler { config: custom.clone(), cas: None }, 4);
        assert!(
            !s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 5)
                .updated
        );
        assert_eq!(s.scheduler.as_ref().unwrap().value, custom);
        assert_eq!(s.scheduler.as_ref().unwrap().create_index, 3);
        assert_eq!(s.scheduler.as_ref().unwrap().modify_index, 4);
    }

    #[test]
    fn a_batch_applies_each_command_at_its_index_and_reports_each() {
        let mut s = State::default();
        s.apply(&Command::InitDefaults { autopilot: Default::default(), scheduler: Default::default() }, 1);
        let batch = Command::Batch(vec![
            Command::SetScheduler {
                config: SchedulerConfig { pause_eval_broker: true, ..Default::default() },
                cas: Some(1),
            },
            Command::SetAutopilot { config: Default::default(), cas: Some(7) },
        ]);
        let applied = s.apply(&batch, 5);
        assert_eq!(applied.index, 5);
        assert!(applied.updated, "one of them changed the state");
        assert_eq!(applied.batch, vec![Applied::at(5, true), Applied::at(5, false)]);
        assert_eq!(s.scheduler.as_ref().map(|r| (r.create_index, r.modify_index)), Some((1, 5)));
        assert_eq!(s.autopilot.as_ref().map(|r| r.modify_index), Some(1), "a failed CAS inside a batch writes nothing");
        assert_eq!(batch.rows(), vec![RowKey::Scheduler, RowKey::Autopilot]);
    }

    #[test]
    fn acl_bootstrap_is_once_and_tokens_keep_their_identity() {
        let mut s = State::default();
        let token = |accessor: &str, secret: &str| AclToken {
            accessor_id: accessor.into(),
            secret_id: secret.into(),
            token_type: acl::MANAGEMENT.into(),
            ..Default::default()
        };
        let first = s.apply(&Command::AclBootstrap { token: token("a1", "s1"), reset_index: 0 }, 4);
        assert!(first.updated);
        assert!(matches!(&first.acl, Some(AclOutcome::Tokens(t)) if t[0].create_index == 4));
        let again = s.apply(&Command::AclBootstrap { token: token("a2", "s2"), reset_index: 0 }, 5);
        assert_eq!(again.acl, Some(AclOutcome::BootstrapDone { reset_index: 4 }));
        assert!(!again.updated && !s.acl_tokens.contains_key("a2"), "a refused bootstrap writes nothing");
        let reset = s.apply(&Command::AclBootstrap { token: token("a3", "s3"), reset_index: 4 }, 6);
        assert!(reset.updated);
        assert_eq!(s.acl_bootstrap, Some(6), "the next reset needs the new index");

        let update = AclToken { name: "renamed".into(), secret_id: "ignored".into(), ..token("a1", "") };
        s.apply(&Command::AclTokenUpsert { tokens: vec![update] }, 7);
        let stored = &s.acl_tokens["a1"];
        assert_eq!((stored.name.as_str(), stored.secret_id.as_str()), ("renamed", "s1"));
        assert_eq!((stored.create_index, stored.modify_index, s.acl_tokens_index), (4, 7, 7));
        s.apply(&Command::AclTokenDelete { accessors: vec!["a1".into(), "nope".into()] }, 8);
        assert!(!s.acl_tokens.contains_key("a1"));

        let policy =
            AclPolicy { name: "p".into(), rules: "operator { policy = \"read\" }".into(), ..Default::default() };
        s.apply(&Command::AclPolicyUpsert { policies: vec![policy.clone()] }, 9);
        s.apply(&Command::AclPolicyUpsert { policies: vec![policy] }, 10);
        assert_eq!((s.acl_policies["p"].create_index, s.acl_policies["p"].modify_index), (9, 10));
        s.apply(&Command::AclPolicyDelete { names: vec!["p".into()] }, 11);
        assert!(s.acl_policies.is_empty());
        assert_eq!(s.acl_policies_index, 11);
    }

    #[test]
    fn cas_zero_never_succeeds_on_live_rows() {
        let mut s = State::default();
        assert!(!s.apply(&Command::SetAutopilot { config: Default::default(), cas: Some(0) }, 1).updated);
        assert!(s.autopilot.is_none(), "CAS on an absent row is a no-op, not a create");
    }
}
