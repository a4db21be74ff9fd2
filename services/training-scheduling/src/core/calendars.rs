//! Calendar feeds: a secret URL per person and view (`participant`: their seats and their
//! classes, also as a guardian; `trainer`: the sessions they teach). Only the token's SHA-256 is
//! stored; issuing a new one revokes the old.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use platform::auth::Principal;
use platform::{ApiError, Tx};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Scheduling, acts_for_others};
use crate::domain::calendar;
use crate::store::feeds as store;

pub const VIEWS: [&str; 2] = ["participant", "trainer"];

/// A feed just issued: its token and the URL to subscribe to.
#[derive(Debug, Clone)]
pub struct IssuedFeed {
    pub person_id: Uuid,
    pub view: &'static str,
    pub token: String,
    pub url: String,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Scheduling {
    /// Issues `person`'s (default the caller's) feed token for `view`, in `tx`, revoking the
    /// previous one. Naming someone else is for callers acting for others.
    pub async fn issue_feed(
        &self,
        tx: &mut Tx,
        caller: &Principal,
        person: Option<Uuid>,
        view: &str,
    ) -> Result<IssuedFeed, ApiError> {
        let Some(view) = VIEWS.iter().find(|v| **v == view) else {
            return Err(ApiError::field("view", "must be participant or trainer"));
        };
        let person_id = person.unwrap_or(caller.subject);
        if person_id != caller.subject && !acts_for_others(caller) {
            return Err(ApiError::forbidden("you may issue only your own calendar feed"));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        store::issue(tx, &digest(&token), person_id, view, caller.subject, self.now()).await?;
        let url = format!("{}/v1/calendars/{token}", self.public_base_url);
        Ok(IssuedFeed {
            person_id,
            view,
            token,
            url,
        })
    }

    /// The feed a token opens, as iCalendar text; an unknown or revoked token is 404.
    pub async fn render_feed(&self, token: &str) -> Result<String, ApiError> {
        let (person, view) = store::by_hash(&self.platform.pool, &digest(token))
            .await?
            .ok_or_else(|| ApiError::not_found("calendar"))?;
        let (name, sessions) = if view == "trainer" {
            (
                "Sessions I teach · 授课安排",
                store::trainer_sessions(&self.platform.pool, person).await?,
            )
        } else {
            (
                "Classes and trainings · 课程与培训",
                store::participant_sessions(&self.platform.pool, person).await?,
            )
        };
        Ok(calendar::feed(name, &sessions, self.platform.clock.now()))
    }
}
