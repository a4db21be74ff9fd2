//! Satisfaction surveys and follow-up visits. Survey links are signed: the token in a link
//! names the ticket and expires (by the service's clock); it needs no login, so the customer can
//! answer straight from an email or SMS.

use chrono::{DateTime, Utc};
use contracts::TicketId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use platform::{ApiError, Clock, Platform};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::core::lifecycle::Lifecycle;
use crate::domain::lifecycle::{Action, Status};
use crate::events;
use crate::store::{self, surveys::FollowUpRow, surveys::SurveyRow};

const PURPOSE: &str = "edu-support/survey";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: TicketId,
    aud: String,
    exp: i64,
}

/// Issues and checks survey tokens (HS256 with the service's own key); expiry is judged by the
/// service's clock.
#[derive(Clone)]
pub struct SurveyLinks {
    encoding: EncodingKey,
    decoding: DecodingKey,
    valid_days: u32,
    clock: Clock,
}

impl SurveyLinks {
    pub fn new(key: &SecretString, valid_days: u32, clock: Clock) -> Self {
        let bytes = key.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            valid_days,
            clock,
        }
    }

    /// A token for the ticket's survey issued at `now` (the service's clock), and when it
    /// expires.
    pub fn issue(&self, ticket: TicketId, now: DateTime<Utc>) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires_at = now + chrono::Duration::days(i64::from(self.valid_days));
        let claims = Claims {
            sub: ticket,
            aud: PURPOSE.to_owned(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal(anyhow::anyhow!("signing a survey token: {e}")))?;
        Ok((token, expires_at))
    }

    /// The ticket a token is for; a forged or altered token is a 404 (it names no survey), one
    /// expired by the service's clock a 410.
    pub fn verify(&self, token: &str) -> Result<TicketId, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[PURPOSE]);
        validation.leeway = 0;
        // Expiry by the service's clock, not the system's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| ApiError::not_found("survey"))?
            .claims;
        if claims.exp < self.clock.now().timestamp() {
            return Err(ApiError::new(
                actix_web::http::StatusCode::GONE,
                "survey_expired",
                "Gone",
                "this survey link has expired",
            ));
        }
        Ok(claims.sub)
    }
}

/// Records the answer to the survey of `ticket` and stages `intake.survey.answered`: once (a
/// second answer is a 409); a ticket without a survey is a 404.
pub async fn answer(
    platform: &Platform,
    ticket: TicketId,
    score: i16,
    comment: Option<&str>,
) -> Result<SurveyRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let now = platform.clock.now();
    let Some(answered) = store::surveys::answer(&mut tx, ticket, score, comment, now).await? else {
        return Err(match store::surveys::get(&platform.pool, ticket).await? {
            Some(_) => ApiError::conflict("survey_answered", "this survey has been answered"),
            None => ApiError::not_found("survey"),
        });
    };
    let survey = answered.survey;
    platform
        .outbox
        .stage_sequenced(
            &mut tx,
            events::survey_answered(&survey, score, comment, now),
            answered.seq,
        )
        .await?;
    platform.outbox.commit(tx).await?;
    Ok(survey)
}

/// Records a pending follow-up's `outcome` `by` a member of staff (one not pending is a 409);
/// `still_has_issue` reopens the ticket when it is still resolved.
pub async fn record_follow_up(
    platform: &Platform,
    lifecycle: &Lifecycle,
    id: uuid::Uuid,
    outcome: &str,
    note: Option<&str>,
    by: uuid::Uuid,
) -> Result<FollowUpRow, ApiError> {
    let mut tx = platform.pool.begin().await?;
    let Some(done) = store::surveys::record_follow_up(&mut tx, id, outcome, note, by, lifecycle.clock.now()).await?
    else {
        return Err(if store::surveys::follow_up_exists(&mut tx, id).await? {
            ApiError::conflict("follow_up_done", "this follow-up is not pending")
        } else {
            ApiError::not_found("follow-up")
        });
    };
    if outcome == "still_has_issue"
        && let Some(ticket) = store::ticket_for_update(&mut tx, done.ticket_id).await?
        && ticket.status == Status::Resolved
    {
        lifecycle.apply(&mut tx, &ticket, Action::Reopen, by).await?;
    }
    platform.outbox.commit(tx).await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_ticket_and_a_tampered_one_names_nothing() {
        let clock = Clock::manual(Utc::now());
        let links = SurveyLinks::new(&SecretString::from("k".repeat(32)), 14, clock.clone());
        let ticket = TicketId::new();
        let (token, expires) = links.issue(ticket, clock.now()).expect("issue");
        assert_eq!(expires, clock.now() + chrono::Duration::days(14));
        assert_eq!(links.verify(&token).expect("verify"), ticket);
        let other = SurveyLinks::new(&SecretString::from("x".repeat(32)), 14, clock.clone());
        assert_eq!(other.verify(&token).expect_err("forged").status, 404);
        // Expiry follows the clock: no waiting.
        clock.advance(chrono::Duration::days(14)).expect("advance");
        assert_eq!(links.verify(&token).expect("the last second of its life"), ticket);
        clock.advance(chrono::Duration::seconds(1)).expect("advance");
        assert_eq!(links.verify(&token).expect_err("expired").status, 410);
        let mut altered = token.clone();
        altered.push('x');
        assert_eq!(links.verify(&altered).expect_err("altered").status, 404);
    }
}
