//! Following `nextToken` safely: a server that hands back a token it already gave (a bug, or an
//! emulator quirk) must not keep a reconcile looping forever.

use std::collections::HashSet;

use crate::error::AwsFault;
use crate::operation::Operation;

/// Far beyond any real listing (EMR pages hold up to 50 items), yet finite.
const MAX_PAGES: usize = 10_000;

pub(crate) struct Pages {
    op: Operation,
    next: Next,
    seen: HashSet<String>,
}

enum Next {
    First,
    Token(String),
    Done,
}

impl Pages {
    pub(crate) fn new(op: Operation) -> Self {
        Pages {
            op,
            next: Next::First,
            seen: HashSet::new(),
        }
    }

    /// `None` when the listing is complete; otherwise the token to send (`None` for page one).
    pub(crate) fn next_request(&mut self) -> Option<Option<String>> {
        match std::mem::replace(&mut self.next, Next::Done) {
            Next::First => Some(None),
            Next::Token(token) => Some(Some(token)),
            Next::Done => None,
        }
    }

    pub(crate) fn advance(&mut self, token: Option<&str>) -> Result<(), AwsFault> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(());
        };
        if !self.seen.insert(token.to_owned()) {
            return Err(AwsFault::malformed_response(format!(
                "{} returned the same nextToken twice",
                self.op
            )));
        }
        if self.seen.len() >= MAX_PAGES {
            return Err(AwsFault::malformed_response(format!(
                "{} did not finish within {MAX_PAGES} pages",
                self.op
            )));
        }
        self.next = Next::Token(token.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_tokens_until_none() {
        let mut pages = Pages::new(Operation::ListJobRuns);
        assert_eq!(pages.next_request(), Some(None));
        pages.advance(Some("t1")).expect("fresh token");
        assert_eq!(pages.next_request(), Some(Some("t1".into())));
        pages.advance(Some("")).expect("empty ends");
        assert_eq!(pages.next_request(), None);
    }

    #[test]
    fn a_repeated_token_is_an_error_not_a_loop() {
        let mut pages = Pages::new(Operation::ListJobRuns);
        pages.next_request();
        pages.advance(Some("t1")).expect("fresh token");
        pages.next_request();
        assert!(pages.advance(Some("t1")).is_err());
    }
}
