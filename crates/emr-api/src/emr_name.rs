//! EMR resource names (job runs, virtual clusters) made from Kubernetes object names, which may be
//! up to 253 characters where EMR takes 64 (`ResourceNameString` in the emr-containers model).

/// EMR's longest job run or virtual cluster name.
pub const MAX_RESOURCE_NAME: usize = 64;

/// `name` as EMR takes it: unchanged when it fits, else its first 55 characters, `-` and 8 hex
/// digits of a hash of the whole name, so two long names sharing a prefix stay apart and the same
/// object always gets the same name. Object names (`[a-z0-9.-]`) match EMR's pattern, and so does
/// the result.
pub fn fit_resource_name(name: &str) -> String {
    if name.chars().count() <= MAX_RESOURCE_NAME {
        return name.to_owned();
    }
    const HASH_DIGITS: usize = 8;
    let keep = MAX_RESOURCE_NAME - HASH_DIGITS - 1;
    let prefix: String = name.chars().take(keep).collect();
    format!("{prefix}-{:08x}", fnv1a_32(name.as_bytes()))
}

/// FNV-1a (32 bits): stable across platforms and operator versions, unlike `DefaultHasher`.
fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_kept() {
        assert_eq!(fit_resource_name("nightly-report"), "nightly-report");
        let exactly = "n".repeat(64);
        assert_eq!(fit_resource_name(&exactly), exactly);
    }

    #[test]
    fn long_names_are_cut_with_a_hash_that_tells_them_apart() {
        let a = format!("{}-a", "x".repeat(251));
        let b = format!("{}-b", "x".repeat(251));
        let (fa, fb) = (fit_resource_name(&a), fit_resource_name(&b));
        assert_eq!(fa.len(), MAX_RESOURCE_NAME);
        assert_eq!(fb.len(), MAX_RESOURCE_NAME);
        assert_ne!(fa, fb);
        assert_eq!(fa, fit_resource_name(&a));
        assert!(fa.starts_with(&"x".repeat(55)));
        // EMR's `[.\-_/#A-Za-z0-9]+`.
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#".contains(c);
        assert!(fa.chars().all(allowed), "{fa}");
    }
}
