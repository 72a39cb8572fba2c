//! Reading the two kinds of sizes the preflight meets, with checked arithmetic only: Kubernetes
//! quantities (`500m`, `6`, `4000Gi`, `1e3`), as LimitRanges, ResourceQuotas and
//! `spark.kubernetes.*.{request,limit}.cores` write them, and Spark's byte strings (`4G`,
//! `512m`, `1024`), as `spark.*.memory` writes them.
//!
//! Amounts are `u128`: CPU in millicores, memory in bytes, both rounded up as Kubernetes rounds
//! (`MilliValue`, `Value`). Anything that does not fit is an error, never a wrapped number.

use thiserror::Error;

/// Why a size could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SizeError {
    #[error("is not a number with a unit")]
    Malformed,
    #[error("is negative")]
    Negative,
    #[error("is too large")]
    TooLarge,
    #[error("has a fraction, which Spark does not accept for sizes")]
    Fractional,
}

/// Longest text read as a size: a quantity Kubernetes accepts is far shorter, and bounding it
/// bounds the work on hostile input.
const MAX_TEXT: usize = 64;
/// Largest decimal exponent taken: 10^38 is the most a `u128` holds.
const MAX_EXPONENT: i64 = 38;

/// A Kubernetes quantity as millicores (`cpu`), rounded up: `500m` -> 500, `6` -> 6000,
/// `0.1` -> 100, `1n` -> 1.
pub fn kube_millis(text: &str) -> Result<u128, SizeError> {
    kube_scaled(text, 3)
}

/// A Kubernetes quantity as a whole number (bytes for `memory`, a count for `pods`), rounded
/// up: `4000Gi` -> 4 294 967 296 000.
pub fn kube_units(text: &str) -> Result<u128, SizeError> {
    kube_scaled(text, 0)
}

/// The quantity times 10^`extra`, rounded up.
fn kube_scaled(text: &str, extra: i64) -> Result<u128, SizeError> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(SizeError::Malformed);
    }
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let (mantissa, fraction_digits) = decimal(number)?;
    let (exponent10, binary_shift) = suffix_scale(suffix)?;
    if negative && mantissa != 0 {
        return Err(SizeError::Negative);
    }
    let exponent = exponent10
        .checked_add(extra)
        .and_then(|e| e.checked_sub(fraction_digits))
        .ok_or(SizeError::TooLarge)?;
    let shifted = mantissa
        .checked_mul(1u128.checked_shl(binary_shift).ok_or(SizeError::TooLarge)?)
        .ok_or(SizeError::TooLarge)?;
    scale_up(shifted, exponent)
}

/// `123.45` -> (12345, 2). Digits only, at most one dot, at least one digit.
fn decimal(number: &str) -> Result<(u128, i64), SizeError> {
    let mut mantissa: u128 = 0;
    let mut fraction_digits: i64 = 0;
    let mut seen_dot = false;
    let mut seen_digit = false;
    for c in number.chars() {
        if c == '.' {
            if seen_dot {
                return Err(SizeError::Malformed);
            }
            seen_dot = true;
            continue;
        }
        let digit = c.to_digit(10).ok_or(SizeError::Malformed)?;
        seen_digit = true;
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(u128::from(digit)))
            .ok_or(SizeError::TooLarge)?;
        if seen_dot {
            fraction_digits = fraction_digits.checked_add(1).ok_or(SizeError::TooLarge)?;
        }
    }
    if seen_digit {
        Ok((mantissa, fraction_digits))
    } else {
        Err(SizeError::Malformed)
    }
}

/// A quantity suffix as (power of ten, power of two).
fn suffix_scale(suffix: &str) -> Result<(i64, u32), SizeError> {
    match suffix {
        "" => Ok((0, 0)),
        "n" => Ok((-9, 0)),
        "u" => Ok((-6, 0)),
        "m" => Ok((-3, 0)),
        "k" => Ok((3, 0)),
        "M" => Ok((6, 0)),
        "G" => Ok((9, 0)),
        "T" => Ok((12, 0)),
        "P" => Ok((15, 0)),
        "E" => Ok((18, 0)),
        "Ki" => Ok((0, 10)),
        "Mi" => Ok((0, 20)),
        "Gi" => Ok((0, 30)),
        "Ti" => Ok((0, 40)),
        "Pi" => Ok((0, 50)),
        "Ei" => Ok((0, 60)),
        _ => {
            // An exponent: e3, E-2, e+6.
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or(SizeError::Malformed)?;
            let digits = rest.strip_prefix('+').unwrap_or(rest);
            let (negative, digits) = match digits.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, digits),
            };
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(SizeError::Malformed);
            }
            // At most four digits: the negation cannot overflow.
            let value: i64 = digits.parse().map_err(|_| SizeError::Malformed)?;
            Ok((if negative { -value } else { value }, 0))
        }
    }
}

/// `value` times 10^`exponent`, rounded up when the exponent is negative.
fn scale_up(value: u128, exponent: i64) -> Result<u128, SizeError> {
    if value == 0 {
        return Ok(0);
    }
    if exponent >= 0 {
        if exponent > MAX_EXPONENT {
            return Err(SizeError::TooLarge);
        }
        let factor = 10u128
            .checked_pow(u32::try_from(exponent).map_err(|_| SizeError::TooLarge)?)
            .ok_or(SizeError::TooLarge)?;
        return value.checked_mul(factor).ok_or(SizeError::TooLarge);
    }
    let down = exponent.checked_neg().ok_or(SizeError::TooLarge)?;
    if down > MAX_EXPONENT {
        // Smaller than any unit: rounds up to one.
        return Ok(1);
    }
    let divisor = 10u128
        .checked_pow(u32::try_from(down).map_err(|_| SizeError::TooLarge)?)
        .ok_or(SizeError::TooLarge)?;
    Ok(value.div_ceil(divisor))
}

/// A Spark byte string in MiB, as `JavaUtils.byteStringAsMb` reads it: an integer and an
/// optional unit (`b`, `k`/`kb`, `m`/`mb`, `g`/`gb`, `t`/`tb`, `p`/`pb`, any case); without a
/// unit the number is in `default_unit_bytes`. Spark rounds down to whole MiB.
pub fn spark_mib(text: &str, default_unit_bytes: u128) -> Result<u128, SizeError> {
    let bytes = spark_bytes(text, default_unit_bytes)?;
    Ok(bytes / MIB)
}

/// One MiB in bytes.
pub const MIB: u128 = 1 << 20;

/// A Spark byte string in bytes (see [`spark_mib`]).
pub fn spark_bytes(text: &str, default_unit_bytes: u128) -> Result<u128, SizeError> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(SizeError::Malformed);
    }
    if text.starts_with('-') {
        return Err(SizeError::Negative);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(SizeError::Malformed);
    }
    if unit.starts_with('.') {
        return Err(SizeError::Fractional);
    }
    let unit_bytes: u128 = match unit {
        "" => default_unit_bytes,
        "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        "p" | "pb" => 1 << 50,
        _ => return Err(SizeError::Malformed),
    };
    let number: u128 = digits.parse().map_err(|_| SizeError::TooLarge)?;
    // Spark reads the number as a Java long.
    if number > u128::from(i64::MAX.unsigned_abs()) {
        return Err(SizeError::TooLarge);
    }
    let bytes = number.checked_mul(unit_bytes).ok_or(SizeError::TooLarge)?;
    // Spark converts to a Java long of bytes on the way, and fails beyond it.
    if bytes > u128::from(i64::MAX.unsigned_abs()) {
        return Err(SizeError::TooLarge);
    }
    Ok(bytes)
}

/// Millicores as Kubernetes prints them: `7`, `500m`.
pub fn show_millis(millis: u128) -> String {
    if millis.is_multiple_of(1000) {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// Bytes in the largest binary unit that divides them: `4Gi`, `4506Mi`, `1000`.
pub fn show_bytes(bytes: u128) -> String {
    for (shift, unit) in [(50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")] {
        let size = 1u128 << shift;
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_quantities_read_as_kubernetes_rounds_them() {
        assert_eq!(kube_millis("500m"), Ok(500));
        assert_eq!(kube_millis("6"), Ok(6000));
        assert_eq!(kube_millis("100m"), Ok(100));
        assert_eq!(kube_millis("0.1"), Ok(100));
        assert_eq!(kube_millis(".5"), Ok(500));
        assert_eq!(kube_millis("1n"), Ok(1));
        assert_eq!(kube_millis("1e3"), Ok(1_000_000));
        assert_eq!(kube_millis("+2"), Ok(2000));
        assert_eq!(kube_millis("0"), Ok(0));
        assert_eq!(kube_millis("-0"), Ok(0));
        assert_eq!(kube_units("4000Gi"), Ok(4000 << 30));
        assert_eq!(kube_units("1.5Gi"), Ok(3 << 29));
        assert_eq!(kube_units("2k"), Ok(2000));
        assert_eq!(kube_units("1E"), Ok(10u128.pow(18)));
        assert_eq!(kube_units("1e-3"), Ok(1), "a fraction of a byte rounds up");
    }

    #[test]
    fn hostile_quantities_are_errors_not_panics() {
        for (text, error) in [
            ("", SizeError::Malformed),
            ("abc", SizeError::Malformed),
            ("1.2.3", SizeError::Malformed),
            ("5 cores", SizeError::Malformed),
            ("1Xi", SizeError::Malformed),
            ("1e", SizeError::Malformed),
            ("1e99999", SizeError::Malformed),
            (".", SizeError::Malformed),
            ("-1", SizeError::Negative),
            ("-500m", SizeError::Negative),
            ("1e38", SizeError::TooLarge),
            (
                "99999999999999999999999999999999999999999",
                SizeError::TooLarge,
            ),
            ("9999999999999999999Ei", SizeError::TooLarge),
        ] {
            assert_eq!(kube_millis(text), Err(error), "{text:?}");
        }
        assert_eq!(kube_units("1e-9999"), Ok(1));
        assert_eq!(kube_units(&"9".repeat(65)), Err(SizeError::Malformed));
    }

    #[test]
    fn spark_sizes_read_as_spark_reads_them() {
        assert_eq!(spark_mib("4G", MIB), Ok(4096));
        assert_eq!(spark_mib("4g", MIB), Ok(4096));
        assert_eq!(spark_mib("512m", MIB), Ok(512));
        assert_eq!(spark_mib("1024", MIB), Ok(1024), "no unit: MiB for memory");
        assert_eq!(spark_mib("2gb", MIB), Ok(2048));
        assert_eq!(spark_mib("1500k", MIB), Ok(1), "rounded down to whole MiB");
        assert_eq!(
            spark_bytes("1024", 1),
            Ok(1024),
            "no unit: bytes for offHeap.size"
        );
        assert_eq!(spark_mib("1.5g", MIB), Err(SizeError::Fractional));
        assert_eq!(spark_mib("-1g", MIB), Err(SizeError::Negative));
        assert_eq!(spark_mib("lots", MIB), Err(SizeError::Malformed));
        assert_eq!(spark_mib("4 G", MIB), Err(SizeError::Malformed));
        assert_eq!(
            spark_mib("9223372036854775808", MIB),
            Err(SizeError::TooLarge)
        );
        assert_eq!(
            spark_mib("9223372036854775807p", MIB),
            Err(SizeError::TooLarge)
        );
        assert_eq!(spark_mib(&"9".repeat(60), MIB), Err(SizeError::TooLarge));
    }

    proptest::proptest! {
        #[test]
        fn any_text_reads_without_panicking(text in proptest::prelude::any::<String>(), unit in 0u128..(1 << 40)) {
            let _ = kube_millis(&text);
            let _ = kube_units(&text);
            let _ = spark_mib(&text, unit);
        }

        #[test]
        fn number_shaped_text_reads_without_panicking(text in "[-+]?[0-9]{0,45}(\\.[0-9]{0,45})?([a-zA-Z]{0,3}|[eE][-+]?[0-9]{1,6})") {
            let _ = kube_millis(&text);
            let _ = kube_units(&text);
            let _ = spark_mib(&text, MIB);
        }
    }

    #[test]
    fn amounts_print_as_kubernetes_writes_them() {
        assert_eq!(show_millis(7000), "7");
        assert_eq!(show_millis(500), "500m");
        assert_eq!(show_bytes(4 << 30), "4Gi");
        assert_eq!(show_bytes(4506 << 20), "4506Mi");
        assert_eq!(show_bytes(1000), "1000");
    }
}
