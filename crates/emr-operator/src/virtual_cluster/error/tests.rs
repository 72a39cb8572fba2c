use super::*;
use crate::kit::testing::aws_fault;
use emr_aws::FaultKind;

fn aws(kind: FaultKind) -> AwsError {
    AwsError::UpdateAssumeRolePolicy {
        role_name: "emr-job-role".into(),
        cause: aws_fault(kind),
    }
}

fn kube(code: u16) -> kube::Error {
    kube::Error::Api(Box::new(
        kube::core::Status::failure("boom", "Reason").with_code(code),
    ))
}

#[test]
fn a_failed_step_carries_the_kind_of_trouble_that_picks_its_backoff() {
    let category = |e: Error| e.outcome().category;
    assert_eq!(
        category(Error::Aws(aws(FaultKind::Throttled))),
        Category::Throttled
    );
    assert_eq!(
        category(Error::Aws(aws(FaultKind::Unavailable))),
        Category::TransientAws
    );
    assert_eq!(
        category(Error::Aws(aws(FaultKind::AccessDenied))),
        Category::Other
    );
    assert_eq!(
        aws_outcome(&aws(FaultKind::Validation)).category,
        Category::TerminalInput
    );
    assert_eq!(
        aws_outcome(&aws(FaultKind::Throttled)).category,
        Category::Throttled
    );
    assert_eq!(
        category(Error::NoOidcIssuer {
            cluster: "c".into()
        }),
        Category::TerminalInput
    );
    let namespace = |code| Error::GetNamespace {
        namespace: "ns".into(),
        source: kube(code),
    };
    assert_eq!(category(namespace(503)), Category::ApiserverUnreachable);
    assert_eq!(category(namespace(403)), Category::Other);
}

#[test]
fn access_denied_names_the_action() {
    let o = Error::Aws(aws(FaultKind::AccessDenied)).outcome();
    assert_eq!(o.reason, "AccessDenied");
    assert!(
        o.message.contains("iam:UpdateAssumeRolePolicy"),
        "{}",
        o.message
    );
}

#[test]
fn throttling_backs_off() {
    let o = Error::Aws(aws(FaultKind::Throttled)).outcome();
    assert_eq!(o.reason, "AwsThrottled");
    assert_eq!(o.retry, crate::virtual_cluster::outcome::Retry::Backoff);
    assert_eq!(
        Error::Aws(aws(FaultKind::Throttled)).metric_label(),
        "AwsThrottled"
    );
}

#[test]
fn forbidden_points_at_the_cluster_role() {
    let e = Error::ApplyChild {
        kind: "RoleBinding",
        namespace: "ns".into(),
        name: "emr-containers".into(),
        source: kube(403),
    };
    let o = e.outcome();
    assert_eq!(o.reason, "Forbidden");
    assert!(o.message.contains("clusterrole-rules.yaml"));
    assert!(
        o.message
            .contains("applying RoleBinding ns/emr-containers failed")
    );
}

#[test]
fn conflicts_retry_soon() {
    let o = Error::UpdateAwsAuth { source: kube(409) }.outcome();
    assert_eq!(
        (o.reason.as_str(), o.retry),
        ("Conflict", crate::virtual_cluster::outcome::Retry::Poll)
    );
}

#[test]
fn a_denied_trust_removal_names_the_role_and_the_action() {
    let e = Error::RemoveTrustStatement {
        role_arn: "arn:aws:iam::123456789012:role/emr-job-role".into(),
        namespace: "spark".into(),
        source: aws(FaultKind::AccessDenied),
    };
    let o = e.outcome();
    assert_eq!(o.reason, "TrustStatementRemovalDenied");
    assert!(
        o.message.contains("iam:UpdateAssumeRolePolicy"),
        "{}",
        o.message
    );
    assert!(
        o.message
            .contains("role arn:aws:iam::123456789012:role/emr-job-role"),
        "{}",
        o.message
    );
    assert!(o.message.contains("Retain"), "{}", o.message);
    assert_eq!(e.metric_label(), "AwsAccessDenied");
    assert_eq!(e.category(), Category::Other);
    let throttled = Error::RemoveTrustStatement {
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        namespace: "spark".into(),
        source: aws(FaultKind::Throttled),
    };
    assert_eq!(throttled.outcome().reason, "AwsThrottled");
}
