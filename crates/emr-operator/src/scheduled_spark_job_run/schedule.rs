//! A schedule as the operator reads it: five cron fields or a nickname (croner) in an IANA time
//! zone (chrono-tz), or `@every <duration>` counted from an anchor (the object's creation).
//! Pure; every computation on a user's value is checked, and every search is bounded.

use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// The longest `@every` period: a year and a day.
pub const MAX_EVERY_SECONDS: i64 = 366 * 24 * 3600;
/// Slots counted one by one before giving up counting (the message then says "at least").
pub const MAX_COUNTED_SLOTS: u32 = 1000;

/// A parsed schedule.
#[derive(Clone, Debug)]
pub enum Schedule {
    Cron { cron: Box<Cron>, zone: Tz },
    Every { period: i64, anchor: i64 },
}

/// Why a schedule cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {schedule:?}: {message}")]
    Schedule { schedule: String, message: String },
    #[error("timeZone {zone:?} is not an IANA time zone name (e.g. Europe/Berlin)")]
    TimeZone { zone: String },
}

impl ScheduleError {
    fn schedule(schedule: &str, message: impl Into<String>) -> Self {
        Self::Schedule {
            schedule: schedule.to_owned(),
            message: message.into(),
        }
    }
}

/// The slots of a window: the latest one and how many there are (counted up to
/// [`MAX_COUNTED_SLOTS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub latest: DateTime<Utc>,
    pub count: u32,
}

impl Schedule {
    /// Parses `text` in `zone` (UTC when unset); `anchor` is where `@every` counts from.
    pub fn parse(
        text: &str,
        zone: Option<&str>,
        anchor: DateTime<Utc>,
    ) -> Result<Self, ScheduleError> {
        let zone = match zone {
            None => Tz::UTC,
            Some(name) => Tz::from_str(name).map_err(|_| ScheduleError::TimeZone {
                zone: name.to_owned(),
            })?,
        };
        let trimmed = text.trim();
        if let Some(duration) = trimmed.strip_prefix("@every") {
            let period = parse_duration(duration.trim())
                .map_err(|message| ScheduleError::schedule(text, message))?;
            return Ok(Self::Every {
                period,
                anchor: anchor.timestamp(),
            });
        }
        let is_nickname = trimmed.starts_with('@');
        if !is_nickname && trimmed.split_whitespace().count() != 5 {
            return Err(ScheduleError::schedule(
                text,
                "expected five fields (minute hour day-of-month month day-of-week), a nickname \
                 such as @daily, or @every <duration>",
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(trimmed)
            .map_err(|e| ScheduleError::schedule(text, e.to_string()))?;
        let schedule = Self::Cron {
            cron: Box::new(cron),
            zone,
        };
        // A pattern that never matches (`0 0 30 2 *`) is refused now rather than found empty at
        // each reconcile.
        if schedule.next_after(anchor).is_none() {
            return Err(ScheduleError::schedule(text, "it never fires"));
        }
        Ok(schedule)
    }

    /// The first slot strictly after `after`, or `None` when there is none (searches are bounded).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every { period, anchor } => {
                let since = after.timestamp().checked_sub(*anchor)?;
                // Slots are anchor + k * period for k >= 1.
                let k = if since < 0 {
                    1
                } else {
                    since.checked_div(*period)?.checked_add(1)?
                };
                let at = anchor.checked_add(k.checked_mul(*period)?)?;
                DateTime::from_timestamp(at, 0)
            }
            Self::Cron { cron, zone } => {
                let mut from = after.with_timezone(zone);
                // croner searches on the wall clock, so from inside a repeated hour it can answer
                // with the hour's first occurrence, before `after`: search on from there (each
                // answer is later than the last, so this ends).
                for _ in 0..4 {
                    let found = cron.find_next_occurrence(&from, false).ok()?;
                    let at = found.with_timezone(&Utc);
                    if at > after {
                        return Some(at);
                    }
                    from = found;
                }
                None
            }
        }
    }

    /// The slots in `(after, until]`: the latest, and how many there are.
    pub fn due(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<Due> {
        if until <= after {
            return None;
        }
        match self {
            Self::Every { period, anchor } => {
                let last_k = until
                    .timestamp()
                    .checked_sub(*anchor)?
                    .checked_div(*period)?;
                if last_k < 1 {
                    return None;
                }
                let latest = anchor.checked_add(last_k.checked_mul(*period)?)?;
                if latest <= after.timestamp() {
                    return None;
                }
                let first = self.next_after(after)?.timestamp();
                let count = latest
                    .checked_sub(first)?
                    .checked_div(*period)?
                    .checked_add(1)?;
                Some(Due {
                    latest: DateTime::from_timestamp(latest, 0)?,
                    count: u32::try_from(count)
                        .unwrap_or(u32::MAX)
                        .min(MAX_COUNTED_SLOTS),
                })
            }
            Self::Cron { .. } => {
                let mut latest = None;
                let mut count = 0u32;
                let mut from = after;
                while count < MAX_COUNTED_SLOTS {
                    match self.next_after(from) {
                        Some(slot) if slot <= until => {
                            latest = Some(slot);
                            count = count.saturating_add(1);
                            from = slot;
                        }
                        _ => break,
                    }
                }
                // Past the count limit, the latest slot is found searching backwards.
                if count >= MAX_COUNTED_SLOTS
                    && let Some(back) = self.previous_at_or_before(until)
                    && latest.is_some_and(|l| back > l)
                {
                    latest = Some(back);
                }
                latest.map(|latest| Due { latest, count })
            }
        }
    }

    fn previous_at_or_before(&self, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Self::Cron { cron, zone } = self else {
            return None;
        };
        let found = cron
            .find_previous_occurrence(&until.with_timezone(zone), true)
            .ok()?;
        let at = found.with_timezone(&Utc);
        (at <= until).then_some(at)
    }
}

/// `90s`, `5m`, `1h30m`: Go-style units h, m, s, at least 1s and at most [`MAX_EVERY_SECONDS`].
pub fn parse_duration(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Err("@every needs a duration, e.g. @every 30s".into());
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for c in text.chars() {
        if let Some(digit) = c.to_digit(10) {
            let so_far = number.unwrap_or(0);
            number = Some(
                so_far
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(digit)))
                    .filter(|n| *n <= MAX_EVERY_SECONDS)
                    .ok_or("the duration is too long (at most 366 days)")?,
            );
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("unknown unit {c:?} (use h, m, s)")),
        };
        let n = number.take().ok_or("a unit must follow a number")?;
        total = n
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .filter(|t| *t <= MAX_EVERY_SECONDS)
            .ok_or("the duration is too long (at most 366 days)")?;
    }
    if number.is_some() {
        return Err("the last number has no unit (use h, m, s)".into());
    }
    if total < 1 {
        return Err("the duration must be at least 1s".into());
    }
    Ok(total)
}

/// `at` plus `seconds`, or `None` past chrono's range.
pub fn plus_seconds(at: DateTime<Utc>, seconds: i64) -> Option<DateTime<Utc>> {
    at.checked_add_signed(TimeDelta::try_seconds(seconds)?)
}

#[cfg(test)]
mod tests;
