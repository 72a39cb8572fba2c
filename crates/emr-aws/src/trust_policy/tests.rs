use super::*;

const PROVIDER: &str = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123";

fn emr_trust() -> EmrTrust<'static> {
    EmrTrust {
        partition: "aws",
        account_id: "123456789012",
        oidc_provider: PROVIDER,
        namespace: "spark",
        role_name: "emr-job-role",
    }
}

fn ec2_statement() -> Value {
    json!({
        "Sid": "Ec2",
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"
    })
}

#[test]
fn partitions() {
    assert_eq!(partition_for_region("us-east-1"), "aws");
    assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
    assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
    assert_eq!(partition_for_region("eu-central-1"), "aws");
}

#[test]
fn role_names_from_arns() {
    assert_eq!(
        role_name_from_arn("arn:aws:iam::123:role/Name"),
        Ok("Name".to_owned())
    );
    assert_eq!(
        role_name_from_arn("arn:aws:iam::123:role/path/to/Name"),
        Ok("Name".to_owned())
    );
    assert_eq!(
        role_name_from_arn("arn:aws-cn:iam::123:role/x"),
        Ok("x".to_owned())
    );
    assert!(matches!(
        role_name_from_arn("Name"),
        Err(RoleArnError::NotAnArn { .. })
    ));
    for bad in [
        "arn:aws:iam::123:user/Name",
        "arn:aws:iam::123:role/",
        "arn:aws:iam::123:role/path/",
        "arn:aws:s3:::role/x",
    ] {
        assert!(
            matches!(role_name_from_arn(bad), Err(RoleArnError::NotARole { .. })),
            "{bad}"
        );
    }
}

#[test]
fn arns_and_providers() {
    assert_eq!(role_arn("aws", "123", "r"), "arn:aws:iam::123:role/r");
    assert_eq!(
        oidc_provider_from_issuer("https://oidc.eks.us-east-1.amazonaws.com/id/ABC"),
        "oidc.eks.us-east-1.amazonaws.com/id/ABC"
    );
    assert_eq!(
        oidc_provider_arn("aws-cn", "1", "p/id/X"),
        "arn:aws-cn:iam::1:oidc-provider/p/id/X"
    );
}

#[test]
fn emr_statement_matches_the_aws_cli() {
    let expected = json!({
        "Effect": "Allow",
        "Principal": {
            "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123"
        },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringLike": {
                "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:sub":
                    "system:serviceaccount:spark:emr-containers-sa-*-*-123456789012-31k61zpmb7mlsiqq1k5"
            }
        }
    });
    assert_eq!(emr_job_role_statement(&emr_trust()), expected);
}

#[test]
fn irsa_statement_matches_eksctl() {
    let expected = json!({
        "Effect": "Allow",
        "Principal": {
            "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123"
        },
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {
                "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:sub": "system:serviceaccount:spark:submitter",
                "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123:aud": "sts.amazonaws.com"
            }
        }
    });
    assert_eq!(
        irsa_statement("aws", "123456789012", PROVIDER, "spark", "submitter"),
        expected
    );
}

#[test]
fn ensure_appends_once_and_keeps_others_in_order() {
    let stmt = emr_job_role_statement(&emr_trust());
    let doc = json!({"Version": "2012-10-17", "Statement": [ec2_statement()]});
    let updated = ensure_statement(&doc, &stmt).expect("appended");
    assert_eq!(
        updated,
        json!({"Version": "2012-10-17", "Statement": [ec2_statement(), stmt.clone()]})
    );
    assert_eq!(ensure_statement(&updated, &stmt), None);
}

#[test]
fn equivalent_existing_statements_are_recognized() {
    let stmt = emr_job_role_statement(&emr_trust());
    let mut with_sid = stmt.clone();
    with_sid["Sid"] = json!("EmrJobs");
    with_sid["Action"] = json!(["sts:AssumeRoleWithWebIdentity"]);
    let federated = with_sid["Principal"]["Federated"].clone();
    with_sid["Principal"]["Federated"] = json!([federated]);
    let doc = json!({"Version": "2012-10-17", "Statement": [ec2_statement(), with_sid]});
    assert!(contains_statement(&doc, &stmt));
    assert_eq!(ensure_statement(&doc, &stmt), None);
}

#[test]
fn a_statement_for_another_namespace_is_not_equivalent() {
    let stmt = emr_job_role_statement(&emr_trust());
    let other = emr_job_role_statement(&EmrTrust {
        namespace: "other",
        ..emr_trust()
    });
    let doc = ensure_statement(&Value::Null, &other).expect("created");
    let updated = ensure_statement(&doc, &stmt).expect("appended");
    assert_eq!(updated["Statement"].as_array().map(Vec::len), Some(2));
}

#[test]
fn single_object_statement_is_handled() {
    let stmt = emr_job_role_statement(&emr_trust());
    let doc = json!({"Version": "2012-10-17", "Statement": ec2_statement()});
    let updated = ensure_statement(&doc, &stmt).expect("appended");
    assert_eq!(updated["Statement"], json!([ec2_statement(), stmt.clone()]));

    let doc = json!({"Version": "2012-10-17", "Statement": stmt.clone()});
    assert_eq!(ensure_statement(&doc, &stmt), None);
    assert_eq!(
        remove_statement(&doc, &stmt),
        Some(json!({"Version": "2012-10-17", "Statement": []}))
    );
}

#[test]
fn creating_a_document_sets_the_version() {
    let stmt = emr_job_role_statement(&emr_trust());
    let expected = json!({"Version": "2012-10-17", "Statement": [stmt.clone()]});
    assert_eq!(
        ensure_statement(&Value::Null, &stmt),
        Some(expected.clone())
    );
    assert_eq!(ensure_statement(&json!({}), &stmt), Some(expected));
    // An existing document keeps whatever Version it had, even none.
    let doc = json!({"Statement": []});
    assert_eq!(
        ensure_statement(&doc, &stmt),
        Some(json!({"Statement": [stmt.clone()]}))
    );
}

#[test]
fn remove_drops_every_equivalent_copy_and_nothing_else() {
    let stmt = emr_job_role_statement(&emr_trust());
    let mut copy = stmt.clone();
    copy["Sid"] = json!("dup");
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [stmt.clone(), ec2_statement(), copy]
    });
    assert_eq!(
        remove_statement(&doc, &stmt),
        Some(json!({"Version": "2012-10-17", "Statement": [ec2_statement()]}))
    );
    let without = json!({"Version": "2012-10-17", "Statement": [ec2_statement()]});
    assert_eq!(remove_statement(&without, &stmt), None);
    assert_eq!(remove_statement(&Value::Null, &stmt), None);
}

#[test]
fn unexpected_statement_shapes_are_kept_not_dropped() {
    let stmt = emr_job_role_statement(&emr_trust());
    let doc = json!({"Version": "2012-10-17", "Statement": "garbage"});
    let updated = ensure_statement(&doc, &stmt).expect("appended");
    assert_eq!(updated["Statement"], json!(["garbage", stmt]));
}

/// A tiny deterministic generator, so the property tests need no extra dependency and
/// always explore the same cases.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A statement equivalent to `stmt`, reshaped the ways people and tools write it.
fn reshaped(stmt: &Value, rng: &mut Rng) -> Value {
    let mut out = stmt.clone();
    if rng.below(2) == 0 {
        out["Sid"] = json!(format!("S{}", rng.below(100)));
    }
    if rng.below(2) == 0 {
        let action = out["Action"].clone();
        out["Action"] = json!([action]);
    }
    if let Some(federated) = out["Principal"].get("Federated").cloned()
        && rng.below(2) == 0
    {
        out["Principal"]["Federated"] = json!([federated]);
    }
    out
}

fn random_policy(rng: &mut Rng, pool: &[Value]) -> Value {
    let count = rng.below(5);
    let statements: Vec<Value> = (0..count)
        .map(|_| {
            let base = &pool[rng.below(pool.len())];
            reshaped(base, rng)
        })
        .collect();
    match rng.below(4) {
        0 if statements.len() == 1 => {
            json!({"Version": "2012-10-17", "Statement": statements[0].clone()})
        }
        1 if statements.is_empty() => Value::Null,
        _ => json!({"Version": "2012-10-17", "Statement": statements}),
    }
}

fn pool() -> Vec<Value> {
    let trust = emr_trust();
    vec![
        ec2_statement(),
        emr_job_role_statement(&trust),
        emr_job_role_statement(&EmrTrust {
            namespace: "other",
            ..trust
        }),
        emr_job_role_statement(&EmrTrust {
            role_name: "cli-role",
            ..trust
        }),
        irsa_statement("aws", "123456789012", PROVIDER, "spark", "submitter"),
    ]
}

fn statement_count(doc: &Value) -> usize {
    statements_of(doc).len()
}

#[test]
fn property_ensure_is_idempotent_and_grows_by_at_most_one() {
    let pool = pool();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..2000 {
        let doc = random_policy(&mut rng, &pool);
        let stmt = reshaped(&pool[rng.below(pool.len())], &mut rng);
        let once = ensure_statement(&doc, &stmt).unwrap_or_else(|| doc.clone());
        assert!(contains_statement(&once, &stmt));
        assert_eq!(
            ensure_statement(&once, &stmt),
            None,
            "ensure twice wrote again"
        );
        let growth = statement_count(&once) - statement_count(&doc);
        assert_eq!(growth, usize::from(!contains_statement(&doc, &stmt)));
        // Every pre-existing statement survives, in order, as a prefix.
        assert_eq!(
            statements_of(&once)[..statement_count(&doc)],
            statements_of(&doc)[..]
        );
    }
}

#[test]
fn property_ensure_then_remove_restores_the_original() {
    let pool = pool();
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..2000 {
        let doc = random_policy(&mut rng, &pool);
        let stmt = reshaped(&pool[rng.below(pool.len())], &mut rng);
        if contains_statement(&doc, &stmt) {
            let removed = remove_statement(&doc, &stmt).expect("present, so removed");
            assert!(!contains_statement(&removed, &stmt));
            let others: Vec<Value> = statements_of(&doc)
                .into_iter()
                .filter(|s| !statements_equivalent(s, &stmt))
                .collect();
            assert_eq!(statements_of(&removed), others);
            continue;
        }
        let added = ensure_statement(&doc, &stmt).expect("absent, so added");
        let restored = remove_statement(&added, &stmt).expect("just added");
        assert_eq!(statements_of(&restored), statements_of(&doc));
        if let Some(version) = doc.get("Version") {
            assert_eq!(restored.get("Version"), Some(version));
        }
    }
}

#[test]
fn property_equivalence_is_symmetric_and_reflexive() {
    let pool = pool();
    let mut rng = Rng(42);
    for _ in 0..500 {
        let a = reshaped(&pool[rng.below(pool.len())], &mut rng);
        let b = reshaped(&pool[rng.below(pool.len())], &mut rng);
        assert!(statements_equivalent(&a, &a));
        assert_eq!(statements_equivalent(&a, &b), statements_equivalent(&b, &a));
    }
}
