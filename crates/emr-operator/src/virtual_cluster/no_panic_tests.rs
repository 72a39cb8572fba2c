//! Property tests: no VirtualCluster spec or status (as a tenant writes the one and anyone with
//! `virtualclusters/status` the other), no aws-auth text and no EMR answer makes a pure part of
//! the VirtualCluster controller panic. Case counts are kept small so `make unit` stays fast.

use std::time::Duration;

use emr_api::check;
use emr_aws::{VirtualClusterInfo, VirtualClusterState};
use proptest::option;
use proptest::prelude::*;
use serde_json::Value;

use super::children::{self, Owner};
use super::outcome::{self, Outcome, Retry};
use super::status::conditions::{self, StepOutcomes};
use super::steps::access::aws_auth::plan as aws_auth;
use super::steps::cleanup::plan as job_runs;
use super::steps::emr_cluster::plan as emr_cluster;
use super::steps::namespace::plan as namespace;
use super::steps::service_accounts::plan as service_accounts;
use super::steps::trust::plan::{self as trust, Family, TrustTarget};
use crate::hostile_values::*;

fn virtual_cluster_info() -> impl Strategy<Value = VirtualClusterInfo> {
    let state = prop_oneof![
        Just(VirtualClusterState::Running),
        Just(VirtualClusterState::Terminating),
        Just(VirtualClusterState::Terminated),
        Just(VirtualClusterState::Arrested),
        text(20).prop_map(VirtualClusterState::Unknown),
    ];
    (
        text(64),
        state,
        option::of(text(100)),
        option::of(text(63)),
        option::of(instant()),
    )
        .prop_map(
            |(id, state, eks_cluster_name, namespace, created_at)| VirtualClusterInfo {
                id,
                name: None,
                arn: None,
                state,
                eks_cluster_name,
                namespace,
                created_at,
                tags: Default::default(),
                security_configuration_id: None,
            },
        )
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        extreme_i64().prop_map(Value::from),
        text(20).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(8), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn retry() -> impl Strategy<Value = Retry> {
    prop_oneof![Just(Retry::Resync), Just(Retry::Poll), Just(Retry::Backoff)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn no_spec_or_status_makes_the_desired_objects_or_trust_panic(
        vc in virtual_cluster(),
        owner in (text(253), text(36)),
        created in any::<bool>(),
        partition in prop_oneof![Just("aws".to_owned()), text(20)],
        recorded in proptest::collection::vec(trust_statement_ref(), 0..6),
    ) {
        let owner = Owner { name: owner.0, uid: owner.1 };
        let spec = &vc.spec;
        let ns = spec.namespace.name.as_str();
        let _ = children::labels(&owner);
        let _ = namespace::namespace(&owner, spec, created);
        let _ = namespace::released_namespace(ns);
        let _ = namespace::retained_namespace(spec);
        let _ = super::steps::access::plan::emr_role_binding(&owner, ns, "emr-on-eks-operator-emr-containers");
        for sa in &spec.service_accounts {
            let _ = service_accounts::service_account(&owner, ns, sa);
        }
        if let Some(rails) = &spec.guard_rails {
            if let Some(quota) = &rails.resource_quota {
                let _ = namespace::resource_quota(&owner, ns, quota);
            }
            if let Some(limits) = &rails.limit_range {
                let _ = namespace::limit_range(&owner, ns, limits);
            }
        }
        if let Some(policy) = spec.guard_rails.as_ref().and_then(namespace::wanted_network_policy) {
            let _ = namespace::network_policy(&owner, ns, &policy);
        }
        let target = TrustTarget {
            partition: &partition,
            account_id: spec.account_id.as_deref().unwrap_or_default(),
            oidc_provider: spec.oidc_provider.as_deref().unwrap_or_default(),
            namespace: ns,
        };
        for family in [Family::ExecutionRoles, Family::ServiceAccounts] {
            let wanted: Vec<_> = trust::wanted(spec, &target, family)
                .into_iter()
                .filter_map(Result::ok)
                .map(|s| s.reference)
                .collect();
            let _ = trust::stale(&recorded, &wanted, family);
        }
        let mut list = vc.status.clone().unwrap_or_default().managed.trust_statements;
        for reference in &recorded {
            let _ = trust::statement(reference, &partition);
            trust::record(&mut list, reference);
            trust::forget(&mut list, reference);
        }
        let _ = check::virtual_cluster(spec);
        let creations = vc.status.as_ref().map_or(0, |s| s.virtual_cluster_creations);
        let _ = emr_cluster::create_request(&vc, &owner.uid, creations);
        let _ = emr_cluster::client_token(&owner.uid, creations);
    }

    #[test]
    fn no_aws_auth_text_or_emr_answer_makes_the_plans_panic(
        map_roles in option::of(prop_oneof![
            text(400),
            Just("- rolearn: 42\n  username: [x]\n".to_owned()),
            Just("- groups: [x]\n- rolearn: x\n".to_owned()),
        ]),
        role_arn in role_arn(),
        infos in proptest::collection::vec(virtual_cluster_info(), 0..5),
        eks in text(100),
        namespace in text(63),
    ) {
        let _ = aws_auth::plan_ensure(map_roles.as_deref(), &role_arn);
        let _ = aws_auth::plan_remove(map_roles.as_deref(), &role_arn);
        let _ = aws_auth::has_entry(map_roles.as_deref(), &role_arn);
        let _ = emr_cluster::holding_namespace(&infos, &namespace);
        for info in &infos {
            let _ = emr_cluster::keep_or_replace(info, &eks, &namespace);
            let _ = emr_cluster::state_outcome(info);
        }
    }

    #[test]
    fn no_conditions_durations_or_runs_make_the_outcome_panic(
        old in conditions(),
        generation in option::of(extreme_i64()),
        retry in retry(),
        failures in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
        durations in (any::<u64>(), any::<u64>()),
        runs in proptest::collection::vec(spark_job_run(), 0..8),
        actual in json(),
        desired_value in json(),
    ) {
        let mut parts = StepOutcomes::default();
        parts.set("NamespaceReady", Outcome::failed("X", "y"));
        let ready = parts.ready("ready");
        let new = conditions::conditions(&old, &parts, &ready, generation);
        let _ = conditions::events(&old, &new);
        let _ = outcome::requeue_after(
            retry,
            Duration::from_secs(durations.0),
            Duration::from_secs(durations.1),
            || crate::kit::backoff::jittered(failures, Duration::from_secs(2), Duration::from_secs(300)),
        );
        let unfinished = job_runs::unfinished(&runs);
        let _ = job_runs::to_cancel(&unfinished);
        for policy in [Default::default(), emr_api::virtual_cluster::RunningJobsOnDelete::Cancel] {
            let _ = job_runs::waiting_message("ns", &unfinished, policy);
        }
        let _ = children::plan::contains(&actual, &desired_value);
    }
}
