//! Policies as data: immutable versions, the one in force at an enrolment, and quotes (what a
//! refund would be, with its explanation, changing nothing).

use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::{FieldError, Validator};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Refunds;
use super::enrolments::facts;
use crate::domain::policy::{Policy, Quote, Reason, Situation, evaluate};
use crate::domain::request;
use crate::store::enrolments::{self, EnrolmentRow};
use crate::store::policies::{self as store, NewPolicy, PolicyRow};

/// A new policy as asked for: its rules, or a preset's.
#[derive(Debug, Clone)]
pub struct PolicyInput<'a> {
    pub name: &'a str,
    /// The engine's rule list (`[{"type": "cooling_off", "days": 7}, …]`).
    pub rules: Option<&'a Value>,
    pub preset: Option<&'a str>,
    pub effective_from: DateTime<Utc>,
}

/// A what-if question about an enrolment.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub enrolment_id: Uuid,
    pub reason: &'a str,
    /// The refund date (default: now).
    pub at: Option<DateTime<Utc>>,
    /// Sessions attended instead of the recorded count.
    pub attended_sessions: Option<i32>,
}

/// A quote and what it was computed from.
#[derive(Debug, Clone)]
pub struct Answer {
    pub enrolment: EnrolmentRow,
    pub policy: PolicyRow,
    pub reason: Reason,
    pub at: DateTime<Utc>,
    pub attended_sessions: i32,
    pub quote: Quote,
}

impl Refunds {
    /// Stores a new version of the policy (its number: one more than the highest). A rule list
    /// that does not parse is a 422 naming each bad field (`rules[2].tiers[1].refund_percent`).
    pub async fn create_policy(&self, caller: &Principal, input: &PolicyInput<'_>) -> Result<PolicyRow, ApiError> {
        let mut v = Validator::new();
        v.text(input.name, "name", 100);
        let mut errors: Vec<FieldError> = Vec::new();
        if let Err(e) = v.finish() {
            errors.extend(e.errors);
        }
        let policy = match (input.rules, input.preset) {
            (Some(rules), None) => Policy::parse(&json!({ "rules": rules }))
                .map_err(|e| errors.extend(e))
                .ok(),
            (None, Some(name)) => {
                let preset = Policy::preset(name);
                if preset.is_none() {
                    let names: Vec<&str> = Policy::presets().into_iter().map(|(n, _, _)| n).collect();
                    errors.push(FieldError {
                        field: "preset".into(),
                        message: format!("unknown preset `{name}`; expected one of {}", names.join(", ")),
                    });
                }
                preset
            }
            _ => {
                errors.push(FieldError {
                    field: "rules".into(),
                    message: "give either rules or preset (one of them)".into(),
                });
                None
            }
        };
        let policy = match policy {
            Some(p) if errors.is_empty() => p,
            _ => return Err(ApiError::validation(errors)),
        };
        let mut tx = self.platform.pool.begin().await?;
        let row = store::insert(
            &mut tx,
            &NewPolicy {
                name: input.name.trim(),
                preset: input.preset,
                policy: &policy,
                effective_from: input.effective_from,
                created_by: caller.subject,
                now: self.now(),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = row.version, name = %row.name, "refund policy created");
        Ok(row)
    }

    pub async fn policies(&self) -> Result<Vec<PolicyRow>, ApiError> {
        Ok(store::list(&self.platform.pool).await?)
    }

    pub async fn policy(&self, version: i32) -> Result<PolicyRow, ApiError> {
        store::get(&self.platform.pool, version)
            .await?
            .ok_or_else(|| ApiError::not_found("policy version"))
    }

    /// What the policy in force at the enrolment gives back for `q`, with each rule's figures.
    /// A customer asks about their own enrolments only (another's is a 404).
    pub async fn quote(&self, caller: &Principal, q: &Question<'_>) -> Result<Answer, ApiError> {
        let mut v = Validator::new();
        let reason = request::reason(&mut v, q.reason);
        if let Some(attended) = q.attended_sessions {
            crate::domain::enrolment::check_attended(&mut v, attended, "attended_sessions");
        }
        v.finish()?;
        let reason = reason.ok_or_else(|| ApiError::internal(anyhow::anyhow!("validated reason missing")))?;
        let pool = &self.platform.pool;
        let enrolment = enrolments::get(pool, q.enrolment_id)
            .await?
            .filter(|e| caller.may_read_customer(e.customer_id))
            .ok_or_else(|| ApiError::not_found("enrolment"))?;
        let refunded = enrolments::refund_state(pool, enrolment.id).await?.refunded_minor;
        let policy = policy_for(pool, &enrolment).await?;
        let mut facts = facts(&enrolment, refunded);
        let attended_sessions = q.attended_sessions.unwrap_or(enrolment.attended_sessions);
        facts.attended_sessions = u32::try_from(attended_sessions).unwrap_or(0);
        let at = q.at.unwrap_or_else(|| self.now());
        let quote = evaluate(&policy.rules, &facts, &Situation { reason, at });
        Ok(Answer {
            enrolment,
            policy,
            reason,
            at,
            attended_sessions,
            quote,
        })
    }
}

/// The policy of enrolment `e`: the one in force when it was enrolled. Version 0 (the
/// `standard` preset, in force from 1970-01-01, the earliest `enrolled_at` accepted) stands
/// behind every later one; the 409 guards against a database changed by hand.
pub async fn policy_for<'e>(db: impl sqlx::PgExecutor<'e>, e: &EnrolmentRow) -> Result<PolicyRow, ApiError> {
    store::in_force(db, e.enrolled_at).await?.ok_or_else(|| {
        ApiError::conflict(
            "no_policy_in_force",
            format!("no refund policy was in force on {} (enrolled_at)", e.enrolled_at),
        )
    })
}
