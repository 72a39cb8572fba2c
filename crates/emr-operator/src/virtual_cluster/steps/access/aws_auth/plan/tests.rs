use super::*;

const ARN: &str = "arn:aws:iam::123456789012:role/AWSServiceRoleForAmazonEMRContainers";

const NODES: &str = r#"- rolearn: arn:aws:iam::123456789012:role/eks-nodes
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
"#;

fn entries(text: &str) -> Vec<Node> {
    match yaml::parse(text).unwrap() {
        Node::Seq(entries) => entries,
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn the_arn_has_no_path() {
    assert_eq!(emr_role_arn("aws", "123456789012"), ARN);
    assert_eq!(
        emr_role_arn("aws-cn", "1"),
        "arn:aws-cn:iam::1:role/AWSServiceRoleForAmazonEMRContainers"
    );
}

#[test]
fn adds_to_missing_or_empty_map_roles() {
    for text in [None, Some(""), Some("  \n"), Some("[]"), Some("~")] {
        let EnsurePlan::Add(out) = plan_ensure(text, ARN).unwrap() else {
            panic!("{text:?}: expected Add");
        };
        assert_eq!(
            entries(&out),
            entries(&format!("- rolearn: {ARN}\n  username: emr-containers\n"))
        );
    }
}

#[test]
fn adding_keeps_other_entries_and_their_fields() {
    let EnsurePlan::Add(out) = plan_ensure(Some(NODES), ARN).unwrap() else {
        panic!("expected Add");
    };
    let all = entries(&out);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], entries(NODES)[0]);
    assert_eq!(
        all[1].get("username"),
        Some(&Node::Str("emr-containers".into()))
    );
    // The result is itself accepted, and adding again changes nothing.
    assert_eq!(plan_ensure(Some(&out), ARN).unwrap(), EnsurePlan::Present);
    assert!(has_entry(Some(&out), ARN).unwrap());
}

#[test]
fn an_entry_with_the_path_counts() {
    let text = "- rolearn: arn:aws:iam::123456789012:role/aws-service-role/emr-containers.amazonaws.com/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n";
    assert_eq!(plan_ensure(Some(text), ARN).unwrap(), EnsurePlan::Present);
    assert_eq!(plan_remove(Some(text), ARN).unwrap(), Some(String::new()));
}

#[test]
fn another_account_is_another_role() {
    let text = "- rolearn: arn:aws:iam::999999999999:role/AWSServiceRoleForAmazonEMRContainers\n  username: emr-containers\n";
    assert!(matches!(
        plan_ensure(Some(text), ARN).unwrap(),
        EnsurePlan::Add(_)
    ));
    assert_eq!(plan_remove(Some(text), ARN).unwrap(), None);
}

#[test]
fn a_mapping_to_another_user_is_reported_not_changed() {
    let text = format!("- rolearn: {ARN}\n  username: someone\n");
    assert_eq!(
        plan_ensure(Some(&text), ARN).unwrap(),
        EnsurePlan::MappedElsewhere {
            username: "someone".into()
        }
    );
    assert_eq!(plan_remove(Some(&text), ARN).unwrap(), None);
}

#[test]
fn remove_drops_every_copy_and_keeps_the_rest() {
    let text = format!(
        "- rolearn: {ARN}\n  username: emr-containers\n{NODES}- rolearn: {ARN}\n  username: emr-containers\n"
    );
    let out = plan_remove(Some(&text), ARN).unwrap().unwrap();
    assert_eq!(entries(&out), entries(NODES));
    assert_eq!(plan_remove(Some(&out), ARN).unwrap(), None);
}

#[test]
fn ensure_then_remove_restores_the_entries() {
    let EnsurePlan::Add(added) = plan_ensure(Some(NODES), ARN).unwrap() else {
        panic!("expected Add");
    };
    let removed = plan_remove(Some(&added), ARN).unwrap().unwrap();
    assert_eq!(entries(&removed), entries(NODES));
}

#[test]
fn broken_yaml_is_an_error_not_a_panic() {
    assert!(matches!(
        plan_ensure(Some("- rolearn: [unclosed"), ARN),
        Err(MapRolesError::Yaml(_))
    ));
    assert_eq!(
        plan_ensure(Some("rolearn: x"), ARN),
        Err(MapRolesError::NotAList)
    );
    assert!(plan_remove(Some("{{{"), ARN).is_err());
}

#[test]
fn entries_without_a_username_or_rolearn_are_kept() {
    let text = "- groups: [x]\n- rolearn: 42\n";
    let EnsurePlan::Add(out) = plan_ensure(Some(text), ARN).unwrap() else {
        panic!("expected Add");
    };
    assert_eq!(entries(&out).len(), 3);
}

/// Keys of the mapping `entry`, in order.
fn keys(entry: &Node) -> Vec<&str> {
    match entry {
        Node::Map(pairs) => pairs.iter().filter_map(|(k, _)| k.as_str()).collect(),
        other => panic!("not a mapping: {other:?}"),
    }
}

#[test]
fn other_entries_keep_their_key_order_unknown_keys_and_types() {
    let text = r#"- username: admin
  groups: [system:masters]
  rolearn: arn:aws:iam::123456789012:role/admin
  x-team-note: "42"
  x-ticket: 42
  x-enabled: "true"
  x-expires: null
  x-weights: {b: 2, a: 1.5}
  x-mode: "0755"
  x-tags: ['on', "yes", "no"]
"#;
    let EnsurePlan::Add(out) = plan_ensure(Some(text), ARN).unwrap() else {
        panic!("expected Add");
    };
    let all = entries(&out);
    assert_eq!(all[0], entries(text)[0], "{out}");
    assert_eq!(
        keys(&all[0]),
        [
            "username",
            "groups",
            "rolearn",
            "x-team-note",
            "x-ticket",
            "x-enabled",
            "x-expires",
            "x-weights",
            "x-mode",
            "x-tags"
        ],
        "{out}"
    );
    // Quoted scalars stay strings, plain ones keep their type.
    let first = &all[0];
    assert_eq!(first.get("x-team-note"), Some(&Node::Str("42".into())));
    assert_eq!(first.get("x-ticket"), Some(&Node::Int(42)));
    assert_eq!(first.get("x-enabled"), Some(&Node::Str("true".into())));
    assert_eq!(first.get("x-expires"), Some(&Node::Null));
    assert_eq!(first.get("x-mode"), Some(&Node::Str("0755".into())));
    assert_eq!(keys(first.get("x-weights").unwrap()), ["b", "a"]);
    assert_eq!(
        first.get("x-tags"),
        Some(&Node::Seq(vec![
            Node::Str("on".into()),
            Node::Str("yes".into()),
            Node::Str("no".into())
        ]))
    );
    // Strings that YAML 1.1 readers (aws-iam-authenticator's) would take for something
    // else are written quoted.
    for quoted in ["'42'", "'true'", "'0755'", "'on'", "'yes'", "'no'"] {
        let double = quoted.replace('\'', "\"");
        assert!(
            out.contains(quoted) || out.contains(&double),
            "{quoted} lost its quotes: {out}"
        );
    }
    // Removing EMR's entry gives the same entries back, in the same order.
    let removed = plan_remove(Some(&out), ARN).unwrap().unwrap();
    assert_eq!(entries(&removed), entries(text));
}

#[test]
fn comments_are_dropped_but_the_entries_they_annotate_are_kept() {
    let text = "# managed by eksctl\n- rolearn: arn:aws:iam::1:role/nodes # nodes\n  username: system:node:{{EC2PrivateDNSName}}\n";
    let EnsurePlan::Add(out) = plan_ensure(Some(text), ARN).unwrap() else {
        panic!("expected Add");
    };
    assert_eq!(entries(&out)[0], entries(text)[0]);
    assert_eq!(
        entries(&out)[0].get("username"),
        Some(&Node::Str("system:node:{{EC2PrivateDNSName}}".into()))
    );
}

#[test]
fn aliases_and_merge_keys_are_written_out_as_they_read() {
    // A merge key is expanded as aws-iam-authenticator (YAML 1.1) reads it: written back as
    // a quoted "<<" it would become an ordinary key and the entry would lose its rolearn.
    let text = "- &nodes\n  rolearn: arn:aws:iam::1:role/nodes\n  username: n\n- <<: *nodes\n  username: m\n- *nodes\n";
    let EnsurePlan::Add(out) = plan_ensure(Some(text), ARN).unwrap() else {
        panic!("expected Add");
    };
    let all = entries(&out);
    assert_eq!(all.len(), 4, "{out}");
    assert!(!out.contains("<<") && !out.contains('*'), "{out}");
    let role = Some(Node::Str("arn:aws:iam::1:role/nodes".into()));
    assert_eq!(all[1].get("rolearn"), role.as_ref(), "{out}");
    assert_eq!(all[1].get("username"), Some(&Node::Str("m".into())));
    assert_eq!(all[2], all[0]);
}

#[test]
fn an_alias_bomb_is_refused() {
    // Each level doubles: 2^40 nodes if expanded.
    let mut text = String::from("- &a0 [x, x]\n");
    for level in 1..40 {
        let prev = level - 1;
        text.push_str(&format!("- &a{level} [*a{prev}, *a{prev}]\n"));
    }
    let err = plan_ensure(Some(&text), ARN).unwrap_err();
    assert!(matches!(err, MapRolesError::Yaml(_)), "{err}");
    // It ends up in a condition message: one line, saying why.
    assert!(!err.to_string().contains('\n'), "{err}");
    assert!(err.to_string().contains("alias"), "{err}");
    assert!(plan_remove(Some(&text), ARN).is_err());
}

#[test]
fn deep_nesting_is_refused() {
    for text in [
        format!("- {}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("- {}x{}", "{a: ".repeat(10_000), "}".repeat(10_000)),
        (0..200)
            .map(|depth| format!("{}- \n", "  ".repeat(depth)))
            .collect(),
    ] {
        let err = plan_ensure(Some(&text), ARN).unwrap_err();
        assert!(matches!(err, MapRolesError::Yaml(_)), "{err}");
    }
}

#[test]
fn a_huge_map_roles_is_refused_before_parsing() {
    let entry = "- rolearn: arn:aws:iam::1:role/r\n  username: u\n";
    let text = entry.repeat(yaml::MAX_BYTES / entry.len() + 1);
    let err = plan_ensure(Some(&text), ARN).unwrap_err();
    assert!(matches!(err, MapRolesError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("refused"), "{err}");
    // Many nodes within the size: refused by the node budget, not read.
    let many = "- [".to_string() + &"x,".repeat(400_000) + "x]\n";
    assert!(many.len() <= yaml::MAX_BYTES);
    assert!(plan_ensure(Some(&many), ARN).is_err());
}

#[test]
fn several_documents_are_refused() {
    let text = format!("- rolearn: {ARN}\n  username: x\n---\n- a\n");
    assert!(plan_ensure(Some(&text), ARN).is_err());
}
