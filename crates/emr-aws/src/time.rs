//! Conversions between the SDK's timestamps and chrono's, which the operator's status uses.

use chrono::{DateTime, Utc};

pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

pub(crate) fn to_smithy(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_subsecond_precision() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("valid");
        assert_eq!(to_chrono(&to_smithy(t)), Some(t));
    }
}
