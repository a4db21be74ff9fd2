//! `/v1/inbound/email`: mail from the mail gateway, threaded into its ticket or opening one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::Validator;
use platform::problems::TooManyRequests;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::inbound::{self, Mail, Taken};
use crate::core::open::{Opened, Opener};
use crate::store::TicketRow;

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

/// Take an inbound email (the mail gateway: a service with `email:inbound`; or an admin).
///
/// A reply is threaded into its ticket by `In-Reply-To` / `References` (Message-IDs the ticket
/// has seen) or by the `[#number]` token in the subject; a reply to a resolved ticket reopens
/// it within the reopen window. Anything else opens a ticket on the `email` channel for the
/// customer holding the sender's address. Too many mails from one address: 429.
#[utoipa::path(post, path = "/v1/inbound/email", tag = "channels", request_body = InboundEmail,
    security(("bearer" = ["admin"]), ("bearer" = ["service", "email:inbound"])),
    responses(
        (status = 201, description = "A ticket was opened", body = InboundEmailResponse),
        (status = 200, description = "Threaded, merged or already taken", body = InboundEmailResponse),
        TooManyRequests,
    ))]
pub async fn inbound(
    caller: Principal,
    opener: web::Data<Opener>,
    body: web::Json<InboundEmail>,
) -> Result<HttpResponse, ApiError> {
    let mail = body.into_inner();
    let from = mail.from.trim().to_lowercase();
    let mut v = Validator::new();
    v.text(&mail.message_id, "message_id", 998);
    v.email(&from, "from");
    let limits = opener.settings.ticket_limits();
    v.text(&mail.subject, "subject", limits.max_subject_chars);
    v.text(&mail.body, "body", limits.max_body_chars);
    v.finish()?;

    let mut references = mail.references;
    references.extend(mail.in_reply_to);
    let taken = inbound::take_mail(
        &opener,
        &Mail {
            message_id: &mail.message_id,
            references: &references,
            from: &from,
            subject: &mail.subject,
            body: &mail.body,
        },
        caller.subject,
    )
    .await?;
    let (status, outcome, row) = match taken {
        Taken::Duplicate(row) => (StatusCode::OK, "duplicate", row),
        Taken::Threaded(row) => (StatusCode::OK, "threaded", row),
        Taken::Opened(Opened::Created(row)) => (StatusCode::CREATED, "created", row),
        Taken::Opened(Opened::Merged(row)) => (StatusCode::OK, "merged", row),
    };
    Ok(HttpResponse::build(status).json(reply(&row, outcome)))
}

fn reply(t: &TicketRow, outcome: &str) -> InboundEmailResponse {
    InboundEmailResponse {
        ticket_id: t.id.into(),
        ticket_number: t.number,
        outcome: outcome.to_owned(),
        customer_id: t.customer_id.into(),
    }
}
