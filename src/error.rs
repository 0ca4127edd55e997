//! The one error type that reaches `main`: a message and the exit code it maps to.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | passed / no regression |
//! | 1 | a threshold failed / a regression was detected |
//! | 2 | bad input (usage, file, rule, URL, port in use) |
//! | 3 | the run could not be judged (target or database unreachable, invalid run) |

use std::fmt;

/// A failure with its exit code and a one-line message for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Exit 2: the user gave something unusable.
    pub fn bad_input(message: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// Exit 3: the run could not be judged (unreachable target, invalid run).
    pub fn unjudgeable(message: impl Into<String>) -> Failure {
        Failure {
            code: 3,
            message: message.into(),
        }
    }

    /// Exit 130 / 143: stopped by SIGINT / SIGTERM (`sig`), `what` says what was not done.
    pub fn interrupted(sig: i32, what: impl Into<String>) -> Failure {
        Failure {
            code: (128 + sig).clamp(0, 255) as u8,
            message: what.into(),
        }
    }

    /// The message on one line (newlines folded), as main prints it.
    pub fn one_line(&self) -> String {
        self.message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
