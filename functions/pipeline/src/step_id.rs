//! The steps' stable ids, declared once. An id names the function's crate and binary
//! (`functions/<id>`), the function the CDK app deploys, and the local Lambda service's function;
//! it also goes into every Snowflake request id a step derives (see [`crate::Step::statement`]),
//! so renaming a step would change what counts as the same statement: ids never change.
//! `tests/tests/structure.rs` holds the workspace, the CDK app and the test world to this list.

/// One postetl function: the six steps the state machine invokes, in workflow order, and
/// `finalize`, which EventBridge invokes when an execution ends outside the workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepId {
    Plan,
    Warehouse,
    RefreshIceberg,
    RunMerge,
    DqCheck,
    RefreshMarts,
    Finalize,
}

impl StepId {
    pub const ALL: [StepId; 7] = [
        StepId::Plan,
        StepId::Warehouse,
        StepId::RefreshIceberg,
        StepId::RunMerge,
        StepId::DqCheck,
        StepId::RefreshMarts,
        StepId::Finalize,
    ];

    /// The stable id: crate, binary and function name, and part of every request id.
    pub const fn as_str(self) -> &'static str {
        match self {
            StepId::Plan => "plan",
            StepId::Warehouse => "warehouse",
            StepId::RefreshIceberg => "refresh-iceberg",
            StepId::RunMerge => "run-merge",
            StepId::DqCheck => "dq-check",
            StepId::RefreshMarts => "refresh-marts",
            StepId::Finalize => "finalize",
        }
    }

    /// The `DefinitionSubstitutions` key that names this function in
    /// `statemachine/post-etl.asl.json`; `finalize` is not in the definition.
    pub const fn substitution(self) -> Option<&'static str> {
        match self {
            StepId::Plan => Some("PlanFunctionArn"),
            StepId::Warehouse => Some("WarehouseFunctionArn"),
            StepId::RefreshIceberg => Some("RefreshIcebergFunctionArn"),
            StepId::RunMerge => Some("RunMergeFunctionArn"),
            StepId::DqCheck => Some("DqCheckFunctionArn"),
            StepId::RefreshMarts => Some("RefreshMartsFunctionArn"),
            StepId::Finalize => None,
        }
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every function's id, in [`StepId::ALL`]'s order.
pub const STEP_IDS: [&str; 7] = {
    let mut ids = [""; 7];
    let mut i = 0;
    while i < StepId::ALL.len() {
        ids[i] = StepId::ALL[i].as_str();
        i += 1;
    }
    ids
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_ones_request_ids_were_derived_from() {
        // Changing one would make a replayed event run its statements again.
        assert_eq!(
            STEP_IDS,
            [
                "plan",
                "warehouse",
                "refresh-iceberg",
                "run-merge",
                "dq-check",
                "refresh-marts",
                "finalize"
            ]
        );
    }
}
