//! §10.3 steps 3 and 4: authentication and authorisation of a REGISTER, as a hook.
//!
//! The pipeline cannot change bindings without an [`Authorized`] value, and only an
//! [`Authorizer`] makes one, for one AoR. Digest authentication (a later issue) plugs in here;
//! [`Open`] lets everything through, as RFC 3261 §10.3 step 3 allows a registrar without an
//! authentication mechanism to do.

use super::Millis;
use crate::sip::Request;

/// Proof that steps 3 and 4 allowed a request to change the bindings of `aor`.
///
/// Not `Clone`: one proof, one commit.
#[derive(Debug)]
pub struct Authorized<'k> {
    aor: &'k [u8],
}

impl<'k> Authorized<'k> {
    /// Issues a proof for `aor`. Only [`Authorizer`] implementations should call this, after
    /// they have verified the request.
    pub fn vouch_for(aor: &'k [u8]) -> Authorized<'k> {
        Authorized { aor }
    }

    /// The AoR the proof is for.
    pub fn aor(&self) -> &'k [u8] {
        self.aor
    }
}

/// Why an authorizer refused: the status, the reason phrase, and header lines (each ending in
/// CRLF) to add to the response, e.g. `WWW-Authenticate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: u16,
    pub reason: &'static str,
}

/// Steps 3 and 4 of §10.3.
pub trait Authorizer {
    /// Decides whether `req` may change the bindings of `aor` (the canonical AoR of its To
    /// URI). On refusal, header lines to add to the response go into `extra_headers`.
    fn authorize<'k>(
        &mut self,
        now: Millis,
        req: &Request<'_, '_>,
        aor: &'k [u8],
        extra_headers: &mut Vec<u8>,
    ) -> Result<Authorized<'k>, Rejection>;
}

/// No authentication: every request is allowed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Open;

impl Authorizer for Open {
    fn authorize<'k>(
        &mut self,
        _now: Millis,
        _req: &Request<'_, '_>,
        aor: &'k [u8],
        _extra_headers: &mut Vec<u8>,
    ) -> Result<Authorized<'k>, Rejection> {
        Ok(Authorized::vouch_for(aor))
    }
}
