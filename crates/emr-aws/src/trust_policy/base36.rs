//! The role-name encoding EMR uses in its service account names.

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The role name's bytes read as one big-endian integer, written in base 36 with digits `0-9a-z`
/// (`"0"` for an empty name), exactly as the AWS CLI's update-role-trust-policy computes it.
/// IAM role names reach 64 bytes, far beyond any machine integer, hence the long division.
pub fn base36(role_name: &str) -> String {
    // Base-256 digits, most significant first, with leading zeros trimmed as division proceeds.
    let mut number: Vec<u8> = role_name.bytes().skip_while(|&b| b == 0).collect();
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder: u32 = 0;
        let mut quotient = Vec::with_capacity(number.len());
        for &byte in &number {
            let current = (remainder << 8) | u32::from(byte);
            let q = current / 36;
            remainder = current % 36;
            if !(quotient.is_empty() && q == 0) {
                // q < 256 because remainder < 36 before the shift.
                quotient.push(q as u8);
            }
        }
        digits.push(DIGITS[remainder as usize]);
        number = quotient;
    }
    if digits.is_empty() {
        return "0".to_owned();
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_aws_cli() {
        assert_eq!(base36("emr-job-role"), "31k61zpmb7mlsiqq1k5");
        assert_eq!(base36("cli-role"), "1ifhqvw023e5h");
    }

    #[test]
    fn empty_is_zero() {
        assert_eq!(base36(""), "0");
    }

    #[test]
    fn small_values() {
        assert_eq!(base36("A"), "1t");
        assert_eq!(base36("\u{0}a"), "2p");
    }

    /// The same conversion in machine arithmetic, exact for up to 16 bytes.
    fn base36_of_u128(bytes: &[u8]) -> String {
        let mut n = bytes
            .iter()
            .fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
        let mut digits = Vec::new();
        loop {
            digits.push(char::from(DIGITS[(n % 36) as usize]));
            n /= 36;
            if n == 0 {
                break;
            }
        }
        digits.iter().rev().collect()
    }

    #[test]
    fn long_division_agrees_with_u128_on_every_short_length() {
        // Pseudo-random ASCII names of 1..=16 bytes (a fixed LCG, so a failure reproduces),
        // plus the extremes of each length.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 1..=16 {
            for round in 0..200 {
                let name: String = (0..len)
                    .map(|_| {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        char::from(b' ' + ((state >> 33) % 95) as u8)
                    })
                    .collect();
                assert_eq!(
                    base36(&name),
                    base36_of_u128(name.as_bytes()),
                    "{name:?} ({round})"
                );
            }
            for extreme in ["\u{0}", "\u{1}", "~"] {
                let name = extreme.repeat(len);
                assert_eq!(base36(&name), base36_of_u128(name.as_bytes()), "{name:?}");
            }
        }
    }

    #[test]
    fn a_64_character_name_needs_arbitrary_precision() {
        assert_eq!(
            base36(&"a".repeat(64)),
            "fhi351z0r0ijtuaiqgq83z21qd5g2gwwizvvafz43aq2m3ylh7x6iwlkqct4v0y9d0h72562rk9bltvopcimha8pjmq63gvb5up"
        );
        assert_eq!(
            base36("EMRContainers-JobExecutionRole_with.long+name=and@chars,xyz-0123"),
            "b0r53cjinmm98dtzztaun9sfuvdytz6hatujk3r8rcutko0ddb49kwff54q8qvg4qigjp6e9rea7u614qtxo8vny1iq7751qxpv"
        );
    }
}
