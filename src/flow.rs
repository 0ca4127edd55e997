//! The flows the harness drives, their names in records and reports, and their canonical
//! order (records, tables and merges list flows in this order). Bottom layer.

/// The flows the harness drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flow {
    Signup,
    Login,
    Validate,
    Refresh,
    Logout,
    /// The old token reused right after logout: must be rejected. An acceptance is a
    /// `security-finding` failure (caches not invalidated, sessions not revoked).
    Reuse,
    /// Pre-steps of any flow (e.g. `GET /login/` for a CSRF token): timed and counted as a
    /// flow of their own, so the flows they prepare keep their own latency.
    Prepare,
}

impl Flow {
    pub const ALL: [Flow; 7] = [
        Flow::Signup,
        Flow::Login,
        Flow::Validate,
        Flow::Refresh,
        Flow::Logout,
        Flow::Reuse,
        Flow::Prepare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flow::Signup => "signup",
            Flow::Login => "login",
            Flow::Validate => "validate",
            Flow::Refresh => "refresh",
            Flow::Logout => "logout",
            Flow::Reuse => "logout-reuse",
            Flow::Prepare => "prepare",
        }
    }

    /// Position in [`Flow::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}
