//! Reading ARNs without trusting their shape.

/// `arn:partition:service:region:account:resource`; the resource may itself contain colons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(arn: &'a str) -> Option<Arn<'a>> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let parsed = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!parsed.partition.is_empty() && !parsed.service.is_empty()).then_some(parsed)
    }
}

/// The account id (5th field) of an ARN, if it has a non-empty one.
pub fn account_of(arn: &str) -> Option<&str> {
    Arn::parse(arn)
        .map(|a| a.account)
        .filter(|account| !account.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_keeps_colons_in_the_resource() {
        let arn = Arn::parse("arn:aws:logs:us-east-1:123456789012:log-group:/a:b").expect("ARN");
        assert_eq!(arn.partition, "aws");
        assert_eq!(arn.service, "logs");
        assert_eq!(arn.region, "us-east-1");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.resource, "log-group:/a:b");
    }

    #[test]
    fn rejects_non_arns() {
        for bad in [
            "",
            "arn",
            "arn:aws",
            "arn:aws:eks:us-east-1",
            "urn:aws:eks:r:1:x",
            "arn::eks:r:1:x",
        ] {
            assert_eq!(Arn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn account_of_eks_cluster_arn() {
        assert_eq!(
            account_of("arn:aws:eks:us-west-2:111122223333:cluster/prod"),
            Some("111122223333")
        );
        assert_eq!(account_of("arn:aws:iam:::role/x"), None);
        assert_eq!(account_of("not-an-arn"), None);
    }
}
