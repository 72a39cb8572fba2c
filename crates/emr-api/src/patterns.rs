//! Validation patterns and limits copied from the emr-containers service model (2020-10-01).
//!
//! The service model uses look-ahead (`(?!\s*$)`), which neither Go's RE2 (the apiserver) nor
//! Rust's regex accept; the patterns here express the same language without it.

/// Job run and virtual cluster names: `[.\-_/#A-Za-z0-9]+`, 1-64.
pub const RESOURCE_NAME: &str = r"^[.\-_/#A-Za-z0-9]+$";
/// Virtual cluster, job template and security configuration ids.
pub const RESOURCE_ID: &str = r"^[0-9a-z]+$";
/// IAM role ARN accepted by StartJobRun's executionRoleArn.
pub const IAM_ROLE_ARN: &str =
    r"^arn:(aws[a-zA-Z0-9-]*):iam::(\d{12})?:(role((/)|(/[!-~]+/))[\w+=,.@-]+)$";
/// Release labels such as `emr-7.2.0-latest` or `emr-6.15.0-20240105`.
pub const RELEASE_LABEL: &str = r"^[.\-_/A-Za-z0-9]+$";
/// Entry points, arguments and Spark parameters: not blank, and none of the shell
/// metacharacters EMR refuses (`';|&<>*?` followed by the backtick and `$(){}[]!#\`).
pub const SAFE_COMMAND_TEXT: &str =
    r"^[^';|&<>*?`$(){}\[\]!#\\]*[^';|&<>*?`$(){}\[\]!#\\\s][^';|&<>*?`$(){}\[\]!#\\]*$";
/// Any string with at least one non-space character.
pub const NOT_BLANK: &str = r"^[\s\S]*\S[\s\S]*$";
/// CloudWatch log group names as EMR accepts them.
pub const LOG_GROUP_NAME: &str = r"^[.\-_/#A-Za-z0-9]+$";
/// Container log rotation size such as `2KB`, `1.5M`, `10G`.
pub const ROTATION_SIZE: &str = r"^\d+(\.\d+)?[KMG][Bb]?$";
/// An EKS cluster name.
pub const EKS_CLUSTER_NAME: &str = r"^[0-9A-Za-z][A-Za-z0-9\-_]*$";
/// A Kubernetes namespace name (RFC 1123 label).
pub const NAMESPACE_NAME: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A Kubernetes service account name (RFC 1123 subdomain).
pub const DNS_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// An EKS Fargate profile name.
pub const FARGATE_PROFILE_NAME: &str = r"^[0-9A-Za-z][A-Za-z0-9\-_]*$";
/// A VPC subnet id.
pub const SUBNET_ID: &str = r"^subnet-[0-9a-f]{8,17}$";
/// An AWS account id.
pub const ACCOUNT_ID: &str = r"^\d{12}$";
/// An OIDC provider as IAM names it: the issuer URL without `https://` (no scheme, no port:
/// `https://oidc.eks...` pasted as is would make trust statements that never match).
pub const OIDC_PROVIDER: &str = r"^[^:/\s][^:\s]*$";
/// S3 URIs (log locations).
pub const S3_URI: &str = r"^s3://[^\s]+$";
/// A job template's executionRoleArn: a role ARN or text holding `${param}`s.
pub const PARAMETRIC_IAM_ROLE_ARN: &str = r"^((arn:(aws[a-zA-Z0-9-]*):iam::(\d{12})?:(role((/)|(/[!-~]+/))[\w+=,.@-]+))|([.\-_#A-Za-z0-9${}]+))$";
/// A job template's releaseLabel: a release label or one `${param}`.
pub const PARAMETRIC_RELEASE_LABEL: &str = r"^([.\-_/A-Za-z0-9]+|\$\{[a-zA-Z]\w*\})$";
/// A job template's kmsKeyArn: a KMS key ARN or one `${param}`.
pub const KMS_KEY_ARN: &str =
    r"^(arn:(aws[a-zA-Z0-9-]*):kms:.+:(\d{12})?:key/[0-9a-zA-Z-]+|\$\{[a-zA-Z]\w*\})$";
/// One line with a non-space character (EMR's `.*\S.*`).
pub const ONE_LINE: &str = r"^[^\n\r]*\S[^\n\r]*$";
/// A job template's parametric monitoring values (log group, persistentAppUI).
pub const TEMPLATE_PARAMETER_TEXT: &str = r"^[.\-_/#A-Za-z0-9${}]+$";
/// Lake Formation's authorizedSessionTagValue.
pub const SESSION_TAG_VALUE: &str = r"^[.\-_/#A-Za-z0-9 ]+$";
/// A Secrets Manager secret ARN.
pub const SECRETS_MANAGER_ARN: &str =
    r"^arn:(aws[a-zA-Z0-9-]*):secretsmanager:.+:(\d{12}):secret:[0-9a-zA-Z/_+=.@-]+$";
/// An S3 bucket, optionally with a key prefix: `s3://bucket` or `s3://bucket/prefix/` (S3's
/// bucket naming rules: 3-63 lowercase letters, digits, dots and hyphens).
pub const S3_PREFIX_URI: &str = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$";

/// EMR accepts at most this many tags on a resource.
pub const MAX_TAGS: usize = 50;
/// Longest tag key EMR accepts.
pub const MAX_TAG_KEY: usize = 128;
/// Longest tag value EMR accepts.
pub const MAX_TAG_VALUE: usize = 256;
