//! Mail from the mail gateway: threaded into its ticket, or opening one on the `email` channel.

use contracts::CustomerId;
use contracts::vocabulary::Channel;
use platform::{ApiError, Tx};
use uuid::Uuid;

use crate::core::open::{Opened, Opener};
use crate::domain::lifecycle::{Action, Status};
use crate::domain::ticket::ValidTicket;
use crate::events;
use crate::store::{self, NewMessage, TicketRow};

/// A parsed inbound mail, checked.
pub struct Mail<'a> {
    /// Its `Message-ID`.
    pub message_id: &'a str,
    /// `References` and `In-Reply-To`: the Message-IDs it answers.
    pub references: &'a [String],
    /// The sender's address, lower-cased.
    pub from: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// What became of a mail.
pub enum Taken {
    /// Its Message-ID was taken before: the ticket it went to.
    Duplicate(TicketRow),
    /// A reply, added to its ticket.
    Threaded(TicketRow),
    /// A new ticket, or a merge into the sender's open one about the same question.
    Opened(Opened),
}

/// The ticket number in a subject token like `[#1024]`.
pub fn subject_token(subject: &str) -> Option<i64> {
    let start = subject.find("[#")? + 2;
    let end = subject[start..].find(']')? + start;
    subject[start..end].trim().parse().ok()
}

/// The customer an address belongs to; an address no profile holds gets a stable guest id
/// derived from it, so one sender's mails stay together.
async fn sender(tx: &mut Tx, from: &str) -> Result<CustomerId, ApiError> {
    Ok(match store::customers::by_address(tx, "email", from).await? {
        Some(id) => id,
        None => Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("mailto:{from}").as_bytes()).into(),
    })
}

/// Takes a mail `received_by` the gateway: the same Message-ID again changes nothing; a reply
/// is threaded into its ticket by `References` (Message-IDs the ticket has seen) or by the
/// `[#number]` token in the subject, reopening a resolved ticket within the reopen window;
/// anything else opens a ticket for the customer holding the sender's address. Too many mails
/// from one address: 429.
pub async fn take_mail(opener: &Opener, mail: &Mail<'_>, received_by: Uuid) -> Result<Taken, ApiError> {
    let outbox = &opener.platform.outbox;
    let mut tx = opener.platform.pool.begin().await?;
    // The same Message-ID again: nothing new.
    if let Some(t) = store::ticket_by_mail(&mut tx, &[mail.message_id.to_owned()]).await? {
        return Ok(Taken::Duplicate(t));
    }
    opener.rate_limit(&format!("email:{}", mail.from)).await?;
    let customer_id = sender(&mut tx, mail.from).await?;

    let mut thread = store::ticket_by_mail(&mut tx, mail.references).await?;
    if thread.is_none()
        && let Some(number) = subject_token(mail.subject)
    {
        thread = store::ticket_by_number(&mut tx, number).await?;
    }
    if let Some(t) = thread.filter(|t| t.customer_id == customer_id)
        && let Some(t) = threadable(&mut tx, opener, t).await?
    {
        let added = store::insert_message(
            &mut tx,
            &NewMessage {
                ticket_id: t.id,
                author_id: customer_id.into(),
                author_role: "customer",
                visibility: "public",
                kind: "message",
                body: mail.body.trim(),
                channel: Some("email"),
                external_id: Some(mail.message_id),
            },
            opener.platform.clock.now(),
        )
        .await?;
        // The message's event first: its number is the one the message took.
        outbox
            .stage_sequenced(
                &mut tx,
                events::message_added(customer_id, &added.message, false),
                added.seq,
            )
            .await?;
        let t = if t.status == Status::WaitingOnCustomer {
            opener
                .lifecycle
                .apply(&mut tx, &t, Action::CustomerReplied, customer_id.into())
                .await?
        } else {
            t
        };
        outbox.commit(tx).await?;
        return Ok(Taken::Threaded(t));
    }

    let valid = ValidTicket {
        customer_id,
        channel: Channel::Email,
        subject: mail.subject.trim().to_owned(),
        body: mail.body.trim().to_owned(),
        requested_priority: None,
        fault: None,
    };
    let opened = opener.open(&mut tx, &valid, received_by, Some(mail.message_id)).await?;
    outbox.commit(tx).await?;
    Ok(Taken::Opened(opened))
}

/// The ticket a reply can go into: open ones as they are, resolved ones reopened (within the
/// window); closed and cancelled ones take no more mail (a new ticket is opened instead).
async fn threadable(tx: &mut Tx, opener: &Opener, t: TicketRow) -> Result<Option<TicketRow>, ApiError> {
    let status = t.status;
    if status.is_terminal() {
        return Ok(None);
    }
    if status == Status::Resolved {
        return match opener
            .lifecycle
            .apply(tx, &t, Action::Reopen, t.customer_id.into())
            .await
        {
            Ok(reopened) => Ok(Some(reopened)),
            Err(e) if e.status == actix_web::http::StatusCode::CONFLICT => Ok(None),
            Err(e) => Err(e),
        };
    }
    Ok(Some(t))
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
