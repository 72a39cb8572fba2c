//! Wording shared by status messages, condition reasons and Events: one line each, so that
//! `kubectl get -o wide` and Argo CD show them whole.

use chrono::TimeDelta;

/// A short human duration: `45s`, `2m3s`, `1h0m5s`, `3d4h`. Negative spans (clock skew) read `0s`.
pub fn duration(span: TimeDelta) -> String {
    let total = span.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// EMR's `SCREAMING_SNAKE` words as a condition reason: `USER_ERROR` -> `UserError`.
/// Anything that is not a letter or digit separates words, so the result is always a valid
/// `metav1.Condition` reason (or `Unknown` when nothing is left).
pub fn camel_case(words: &str) -> String {
    let mut out = String::with_capacity(words.len());
    for word in words.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => out,
        Some(_) => format!("R{out}"),
        None => "Unknown".into(),
    }
}

/// Collapses whitespace (EMR's stateDetails can hold a stack trace) and cuts to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(3)).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(TimeDelta::seconds(0)), "0s");
        assert_eq!(duration(TimeDelta::seconds(45)), "45s");
        assert_eq!(duration(TimeDelta::seconds(123)), "2m3s");
        assert_eq!(duration(TimeDelta::seconds(3605)), "1h0m5s");
        assert_eq!(
            duration(TimeDelta::seconds(3 * 86_400 + 4 * 3600 + 9)),
            "3d4h"
        );
        assert_eq!(duration(TimeDelta::seconds(-5)), "0s");
    }

    #[test]
    fn emr_words_become_condition_reasons() {
        assert_eq!(camel_case("USER_ERROR"), "UserError");
        assert_eq!(camel_case("CANCEL_PENDING"), "CancelPending");
        assert_eq!(camel_case("COMPLETED"), "Completed");
        assert_eq!(camel_case("weird state!"), "WeirdState");
        assert_eq!(camel_case("9_LIVES"), "R9Lives");
        assert_eq!(camel_case(""), "Unknown");
    }

    #[test]
    fn details_fit_on_one_line() {
        assert_eq!(one_line("a\n  b\tc", 100), "a b c");
        assert_eq!(one_line("abcdefghij", 6), "abc...");
        assert_eq!(one_line("héllo wörld", 8), "héllo...");
    }
}
