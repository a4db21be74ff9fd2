//! `/v1/inbound/email`: mail from the mail gateway, threaded into its ticket or opening one.

use actix_web::{HttpResponse, web};
use contracts::vocabulary::Channel;
use platform::auth::{Principal, Role};
use platform::error::{Problem, Validator};
use platform::{ApiError, Platform, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::lifecycle::{Action, Status};
use crate::domain::ticket::ValidTicket;
use crate::open::{Opened, Opener};
use crate::store::{self, NewMessage, TicketRow};

/// A parsed inbound email.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundEmail {
    /// The mail's `Message-ID`: the same mail delivered twice is taken once.
    #[schema(example = "<CAF3x9@mail.example.com>")]
    pub message_id: String,
    /// `In-Reply-To`.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// `References`, oldest first.
    #[serde(default)]
    pub references: Vec<String>,
    #[schema(example = "parent@example.com")]
    pub from: String,
    #[schema(example = "Re: [#1024] Live class will not load")]
    pub subject: String,
    /// The text body (quoted history may be left in).
    pub body: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InboundEmailResponse {
    pub ticket_id: Uuid,
    pub ticket_number: i64,
    /// `created` (a new ticket), `threaded` (a reply added to its ticket), `merged` (the same
    /// question as an open ticket from another channel) or `duplicate` (this Message-ID was
    /// taken before).
    pub outcome: String,
    pub customer_id: Uuid,
}

/// The ticket number in a subject token like `[#1024]`.
pub fn subject_token(subject: &str) -> Option<i64> {
    let start = subject.find("[#")? + 2;
    let end = subject[start..].find(']')? + start;
    subject[start..end].trim().parse().ok()
}

/// The customer an address belongs to; an address no profile holds gets a stable guest id
/// derived from it, so one sender's mails stay together.
async fn sender(tx: &mut Tx, from: &str) -> Result<Uuid, ApiError> {
    Ok(match store::customers::by_address(tx, "email", from).await? {
        Some(id) => id,
        None => Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("mailto:{from}").as_bytes()),
    })
}

/// Take an inbound email (the mail gateway, role `service`).
///
/// A reply is threaded into its ticket by `In-Reply-To` / `References` (Message-IDs the ticket
/// has seen) or by the `[#number]` token in the subject; a reply to a resolved ticket reopens
/// it within the reopen window. Anything else opens a ticket on the `email` channel for the
/// customer holding the sender's address. Too many mails from one address: 429.
#[utoipa::path(post, path = "/v1/inbound/email", tag = "channels", request_body = InboundEmail,
    responses(
        (status = 201, description = "A ticket was opened", body = InboundEmailResponse),
        (status = 200, description = "Threaded, merged or already taken", body = InboundEmailResponse),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn inbound(
    caller: Principal,
    platform: web::Data<Platform>,
    opener: web::Data<Opener>,
    body: web::Json<InboundEmail>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&[Role::Service, Role::Admin])?;
    let mail = body.into_inner();
    let from = mail.from.trim().to_lowercase();
    let mut v = Validator::new();
    v.text(&mail.message_id, "message_id", 998);
    v.email(&from, "from");
    v.text(&mail.subject, "subject", opener.settings.max_subject_chars);
    v.text(&mail.body, "body", opener.settings.max_body_chars);
    v.finish()?;

    let mut tx = platform.pool.begin().await?;
    // The same Message-ID again: nothing new.
    if let Some(t) = store::ticket_by_mail(&mut tx, std::slice::from_ref(&mail.message_id)).await? {
        return Ok(HttpResponse::Ok().json(reply(&t, "duplicate")));
    }
    opener.rate_limit(&format!("email:{from}")).await?;
    let customer_id = sender(&mut tx, &from).await?;

    let mut refs = mail.references.clone();
    refs.extend(mail.in_reply_to.clone());
    let mut thread = store::ticket_by_mail(&mut tx, &refs).await?;
    if thread.is_none()
        && let Some(number) = subject_token(&mail.subject)
    {
        thread = store::ticket_by_number(&mut tx, number).await?;
    }
    if let Some(t) = thread.filter(|t| t.customer_id == customer_id)
        && let Some(t) = threadable(&mut tx, &opener, t).await?
    {
        let message = store::insert_message(
            &mut tx,
            &NewMessage {
                ticket_id: t.id,
                author_id: customer_id,
                author_role: "customer",
                visibility: "public",
                kind: "message",
                body: mail.body.trim(),
                channel: Some("email"),
                external_id: Some(&mail.message_id),
            },
        )
        .await?;
        let t = if t.status == Status::WaitingOnCustomer.as_str() {
            opener
                .lifecycle
                .apply(&mut tx, &t, Action::CustomerReplied, customer_id)
                .await?
        } else {
            t
        };
        platform
            .outbox
            .stage(&mut tx, crate::events::message_added(customer_id, &message, false))
            .await?;
        platform.outbox.commit(tx).await?;
        return Ok(HttpResponse::Ok().json(reply(&t, "threaded")));
    }

    let valid = ValidTicket {
        customer_id,
        channel: Channel::Email,
        subject: mail.subject.trim().to_owned(),
        body: mail.body.trim().to_owned(),
        requested_priority: None,
        fault: None,
    };
    let (status, outcome, row) = match opener
        .open(&mut tx, &valid, caller.subject, Some(&mail.message_id))
        .await?
    {
        Opened::Created(row) => (actix_web::http::StatusCode::CREATED, "created", row),
        Opened::Merged(row) => (actix_web::http::StatusCode::OK, "merged", row),
    };
    platform.outbox.commit(tx).await?;
    Ok(HttpResponse::build(status).json(reply(&row, outcome)))
}

/// The ticket a reply can go into: open ones as they are, resolved ones reopened (within the
/// window); closed and cancelled ones take no more mail (a new ticket is opened instead).
async fn threadable(tx: &mut Tx, opener: &Opener, t: TicketRow) -> Result<Option<TicketRow>, ApiError> {
    let status = Status::parse(&t.status).unwrap_or(Status::Closed);
    if status.is_terminal() {
        return Ok(None);
    }
    if status == Status::Resolved {
        return match opener.lifecycle.apply(tx, &t, Action::Reopen, t.customer_id).await {
            Ok(reopened) => Ok(Some(reopened)),
            Err(e) if e.status == actix_web::http::StatusCode::CONFLICT => Ok(None),
            Err(e) => Err(e),
        };
    }
    Ok(Some(t))
}

fn reply(t: &TicketRow, outcome: &str) -> InboundEmailResponse {
    InboundEmailResponse {
        ticket_id: t.id,
        ticket_number: t.number,
        outcome: outcome.to_owned(),
        customer_id: t.customer_id,
    }
}

#[cfg(test)]
mod tests {
    use super::subject_token;

    #[test]
    fn the_subject_token_names_the_ticket() {
        assert_eq!(subject_token("Re: [#1024] Live class will not load"), Some(1024));
        assert_eq!(subject_token("回复：[# 77 ] 退费"), Some(77));
        assert_eq!(subject_token("[#abc] hi"), None);
        assert_eq!(subject_token("no token"), None);
    }
}
