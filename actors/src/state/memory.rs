//! [`State`]: every replicated table in memory, behind [`Tables`], for models, tests and
//! benches. It applies commands with the same [`apply()`] as the raft store.

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde::Deserialize;
use serde::Serialize;

use super::apply::apply;
use super::AclPolicy;
use super::AclToken;
use super::Applied;
use super::AutopilotConfig;
use super::Command;
use super::InstalledLicense;
use super::Row;
use super::SchedulerConfig;
use super::Tables;
use super::Variable;

/// Everything the cluster replicates, held in memory: the model of the stored tables.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub autopilot: Option<Row<AutopilotConfig>>,
    pub scheduler: Option<Row<SchedulerConfig>>,
    /// Keyed by (namespace, path), the order the store keeps them in.
    pub variables: BTreeMap<(String, String), Variable>,
    pub variables_index: u64,
    pub acl_policies: BTreeMap<String, AclPolicy>,
    pub acl_tokens: BTreeMap<String, AclToken>,
    pub acl_bootstrap: Option<u64>,
    pub acl_policies_index: u64,
    pub acl_tokens_index: u64,
    #[serde(default)]
    pub license: Option<Row<InstalledLicense>>,
}

impl Tables for State {
    type Error = Infallible;

    fn autopilot(&self) -> Result<Option<Row<AutopilotConfig>>, Infallible> {
        Ok(self.autopilot.clone())
    }

    fn set_autopilot(&mut self, row: Row<AutopilotConfig>) -> Result<(), Infallible> {
        self.autopilot = Some(row);
        Ok(())
    }

    fn scheduler(&self) -> Result<Option<Row<SchedulerConfig>>, Infallible> {
        Ok(self.scheduler.clone())
    }

    fn set_scheduler(&mut self, row: Row<SchedulerConfig>) -> Result<(), Infallible> {
        self.scheduler = Some(row);
        Ok(())
    }

    fn variable(&self, namespace: &str, path: &str) -> Result<Option<Variable>, Infallible> {
        Ok(self.variables.get(&(namespace.to_string(), path.to_string())).cloned())
    }

    fn set_variable(&mut self, var: &Variable) -> Result<(), Infallible> {
        self.variables.insert((var.namespace.clone(), var.path.clone()), var.clone());
        Ok(())
    }

    fn delete_variable(&mut self, namespace: &str, path: &str) -> Result<(), Infallible> {
        self.variables.remove(&(namespace.to_string(), path.to_string()));
        Ok(())
    }

    fn set_variables_index(&mut self, index: u64) -> Result<(), Infallible> {
        self.variables_index = index;
        Ok(())
    }

    fn acl_policy(&self, name: &str) -> Result<Option<AclPolicy>, Infallible> {
        Ok(self.acl_policies.get(name).cloned())
    }

    fn set_acl_policy(&mut self, policy: &AclPolicy) -> Result<(), Infallible> {
        self.acl_policies.insert(policy.name.clone(), policy.clone());
        Ok(())
    }

    fn delete_acl_policy(&mut self, name: &str) -> Result<(), Infallible> {
        self.acl_policies.remove(name);
        Ok(())
    }

    fn acl_token(&self, accessor: &str) -> Result<Option<AclToken>, Infallible> {
        Ok(self.acl_tokens.get(accessor).cloned())
    }

    fn set_acl_token(&mut self, token: &AclToken) -> Result<(), Infallible> {
        self.acl_tokens.insert(token.accessor_id.clone(), token.clone());
        Ok(())
    }

    fn delete_acl_token(&mut self, token: &AclToken) -> Result<(), Infallible> {
        self.acl_tokens.remove(&token.accessor_id);
        Ok(())
    }

    fn acl_bootstrap(&self) -> Result<Option<u64>, Infallible> {
        Ok(self.acl_bootstrap)
    }

    fn set_acl_bootstrap(&mut self, index: u64) -> Result<(), Infallible> {
        self.acl_bootstrap = Some(index);
        Ok(())
    }

    fn set_acl_index(&mut self, tokens: bool, index: u64) -> Result<(), Infallible> {
        if tokens {
            self.acl_tokens_index = index;
        } else {
            self.acl_policies_index = index;
        }
        Ok(())
    }

    fn license(&self) -> Result<Option<Row<InstalledLicense>>, Infallible> {
        Ok(self.license.clone())
    }

    fn set_license(&mut self, row: Row<InstalledLicense>) -> Result<(), Infallible> {
        self.license = Some(row);
        Ok(())
    }
}

impl State {
    /// Applies `cmd`, which sits at raft log `index`, to the in-memory tables.
    pub fn apply(&mut self, cmd: &Command, index: u64) -> Applied {
        match apply(self, cmd, index) {
            Ok(applied) => applied,
            Err(never) => match never {},
        }
    }
}
